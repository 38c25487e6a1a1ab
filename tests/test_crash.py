"""A render killed (kill -9) at any step leaves nothing usable, and the next command cleans up after it.

Each test runs a real `sitter render` in a subprocess that waits at one step (SITTER_TEST_PAUSE_AT, see
provenance/staging.py), kills it there, looks at what is left (the output, its folder, the registry and the
ledger, read straight from the SQLite file so that nothing sweeps first), then runs one more command.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from provenance import Verdict, verify
from provenance.manifest import read_manifest
from provenance.registry import Registry
from provenance.video import read_frames, write_mp4
from sitter.database import connect
from studio import store

DATA = Path(__file__).parent / "data"
PORTRAIT = "einstein_photo.jpg"
BEFORE_THE_RECHECK = ["encoding", "signing", "registering", "rechecking"]


@pytest.fixture
def consented(consent_to) -> str:
    """A record covering the portrait for marketing; its id."""
    return consent_to(DATA / PORTRAIT)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "outputs" / "video.mp4"


@pytest.fixture
def paused(consented: str, env: dict[str, str], home: Path, out: Path, tmp_path: Path):
    """Start a render that waits at `step`; return (the process, its work folder). Killed at teardown."""
    processes = []

    def start(step: str) -> tuple[subprocess.Popen, Path]:
        args = [sys.executable, "-m", "studio.cli", "render", "--source", DATA / PORTRAIT, "--landmarks",
                DATA / PORTRAIT.replace(".jpg", ".landmarks.json"), "--purpose", "marketing", "--seconds", "1",
                "--out", out]
        stderr = tmp_path / f"render-{step}.stderr"  # a file, not a pipe: a full pipe would stall the render
        with stderr.open("wb") as errors:
            process = subprocess.Popen([str(a) for a in args], env={**os.environ, **env, "SITTER_TEST_PAUSE_AT": step},
                                       stdout=subprocess.DEVNULL, stderr=errors)
        processes.append(process)
        deadline = time.monotonic() + 120
        while not (marker := next((home / "work").glob(f"*/paused-{step}"), None)):
            assert process.poll() is None, stderr.read_text()
            assert time.monotonic() < deadline, f"the render never reached {step}"
            time.sleep(0.05)
        return process, marker.parent

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait()


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()


def registry_rows(home: Path) -> list[tuple[str, bool]]:
    """(output id, published) of every registry row, pending ones included."""
    with sqlite3.connect(home / "sitter.db") as db:
        return [(output_id, bool(published))
                for output_id, published in db.execute("SELECT output_id, published FROM provenance_manifests")]


def uses(home: Path) -> int:
    with sqlite3.connect(home / "sitter.db") as db:
        return db.execute("SELECT count(*) FROM ledger_events WHERE kind = 'use'").fetchone()[0]


def signed_videos(*folders: Path) -> list[Path]:
    """Every file under `folders` that is an MP4 with a C2PA manifest in it."""
    found = []
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and path.read_bytes()[4:8] == b"ftyp" and read_manifest(path).present:
                found.append(path)
    return found


def owner(work: Path) -> dict:
    return json.loads((work / "owner").read_text())


@pytest.mark.parametrize("step", BEFORE_THE_RECHECK)
def test_a_render_killed_before_the_recheck_leaves_nothing_and_is_swept(paused, sitter, home: Path, out: Path,
                                                                       step: str) -> None:
    process, work = paused(step)
    me = owner(work)
    assert me["pid"] == process.pid and me["started"] and me["boot_id"]
    assert work.parent == home / "work" and list(out.parent.iterdir()) == []  # it works under SITTER_HOME
    if step == "encoding":
        assert (work / "unsigned.mp4").stat().st_size > 0  # part of a video of the face, in the work folder
    if step == "rechecking":  # everything is done but the re-check: still no signed video anywhere
        assert signed_videos(home, out.parent) == []
        assert not list(home.rglob("*.mp4")) and not list(out.parent.rglob("*"))
        assert registry_rows(home) == [(me["output_id"], False)]  # reserved, pending
    kill(process)
    assert not out.exists() and list(out.parent.iterdir()) == []  # nothing at --out, nothing beside it
    assert [published for _, published in registry_rows(home)] in ([], [False])  # no committed row
    assert uses(home) == 0
    assert work.is_dir()  # until the next command

    result = sitter("consent", "list")  # any command: it sweeps first
    assert result.exit_code == 0, result.output
    assert not work.exists() and list((home / "work").iterdir()) == []
    assert registry_rows(home) == []  # the pending row swept
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_killed_after_the_recheck_before_the_rename_the_temp_file_is_swept(paused, sitter, home: Path,
                                                                          out: Path) -> None:
    process, work = paused("renaming")
    [temp] = out.parent.iterdir()  # the signed video, written only now, beside --out and owner-only
    assert temp.name.startswith(".") and temp.stat().st_mode & 0o077 == 0
    assert uses(home) == 1  # the use was logged, after the grant was re-checked
    kill(process)
    assert not out.exists() and [published for _, published in registry_rows(home)] == [False]
    assert sitter("consent", "list").exit_code == 0
    assert list(out.parent.iterdir()) == [] and not work.exists()
    assert registry_rows(home) == []


def test_killed_after_the_rename_the_sweep_publishes_its_registry_row(paused, sitter, home: Path, out: Path,
                                                                     tmp_path: Path) -> None:
    process, work = paused("committing")
    me = owner(work)
    kill(process)
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # renamed into place, consent re-checked
    stripped = tmp_path / "stripped.mp4"
    write_mp4(read_frames(out), stripped, 25, crf=26)  # its manifest gone: only the registry can name it
    with Registry(f"sqlite:///{home / 'sitter.db'}") as registry:
        assert registry.entries() == []  # pending: not counted, and verify does not see it
        assert verify(stripped, registry=registry).verdict is Verdict.WATERMARK_ONLY
    assert sitter("consent", "list").exit_code == 0
    assert not work.exists()
    assert registry_rows(home) == [(me["output_id"], True)]  # the file is there: the row caught up
    for clip, verdict in ((out, Verdict.LABELED), (stripped, Verdict.LABELED_STRIPPED)):
        result = sitter("verify", clip, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["verdict"] == verdict.value


def test_a_live_render_keeps_its_work_folder_through_other_commands(paused, sitter, home: Path) -> None:
    process, work = paused("encoding")
    old = time.time() - 7200
    os.utime(work, (old, old))  # age does not matter, only whether its render still holds the lock
    assert sitter("consent", "list").exit_code == 0
    assert work.is_dir() and (work / "unsigned.mp4").exists()
    kill(process)
    assert sitter("consent", "list").exit_code == 0
    assert not work.exists()


def test_registry_rows_are_pending_until_published_and_older_rows_count_as_published(store_url: str) -> None:
    config = Config()  # a database at the schema before pending rows existed, with one output in it
    config.set_main_option("script_location", str(store.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", store_url.replace("%", "%%"))
    engine = connect(store_url)  # as the studio opens it: the SQLite file's folder made, psycopg for PostgreSQL
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO provenance_manifests (watermark_id, output_id, created_at, record_id, "
                              "engine, sha256, manifest) VALUES ('0000a1d0', 'old-1', '2026-01-01T00:00:00+00:00', "
                              "'r', 'warp', :sha, :store)"), {"sha": "e" * 64, "store": b"store"})
    finally:
        engine.dispose()
    assert store.upgrade(store_url) == store.head()
    with Registry(store_url) as registry:
        assert registry.get("0000a1d0").output_id == "old-1"  # published when it was written
        registry.register(watermark_id="9f3a61c2", manifest=b"store", output_id="out-1", record_id="r",
                          engine="warp", sha256="e" * 64, pending=True)
        assert registry.find("9f3a61c2") is None and [e.output_id for e in registry.entries()] == ["old-1"]
        assert registry.find("9f3a61c2", include_pending=True).output_id == "out-1"  # the id stays taken
        registry.publish("out-1")
        assert registry.get("9f3a61c2").output_id == "out-1"
        registry.discard("out-1")  # a published output is never discarded
        assert {e.output_id for e in registry.entries()} == {"old-1", "out-1"}
        for wm, output_id, day in (("0000dead", "died-1", 1), ("0000beef", "live-1", 3)):
            registry.register(watermark_id=wm, manifest=b"store", output_id=output_id, record_id="r", engine="warp",
                              sha256="e" * 64, pending=True, now=datetime(2026, 1, day, tzinfo=UTC))
        registry.discard_stale(datetime(2026, 1, 2, tzinfo=UTC))  # pending that long: its render died
        assert registry.find("0000dead", include_pending=True) is None
        assert registry.find("0000beef", include_pending=True).output_id == "live-1"
        assert registry.get("0000a1d0").output_id == "old-1"  # published rows stay, however old
