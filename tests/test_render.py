"""`sitter render` and `sitter demo` end to end: consent gate -> engine -> labels -> signed MP4, or nothing."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from consent import ConsentRevoked
from engine import PRESETS
from provenance import Verdict, verify
from provenance.video import probe, read_frames, write_mp4
from studio.cli import cli
from studio.pipeline import RenderRequest, render
from studio.settings import Settings

DATA = Path(__file__).parent / "data"
PORTRAITS = ["einstein_photo.jpg", "bouguereau_girl_small.jpg", "terracotta_warrior_small.jpg",
             "sargent_woman_in_black.jpg", "astronaut.jpg"]  # every shared fixture portrait


@pytest.fixture
def consented(consent_to):
    """Add a record for a portrait (marketing only) and return its id."""

    def add(portrait: str = PORTRAITS[0], purpose: str = "marketing") -> str:
        return consent_to(DATA / portrait, purposes=(purpose,))

    return add


def render_args(out: Path, portrait: str = PORTRAITS[0], *extra: object) -> list[object]:
    return ["render", "--source", DATA / portrait, "--landmarks", DATA / portrait.replace(".jpg", ".landmarks.json"),
            "--purpose", "marketing", "--seconds", "1", "--out", out, *extra]


@pytest.mark.parametrize("portrait", PORTRAITS)
def test_every_portrait_renders_with_every_preset_and_verifies_labeled(sitter, consented, portrait: str,
                                                                       tmp_path: Path, home: Path) -> None:
    record_id = consented(portrait)
    for motion in PRESETS:
        out = tmp_path / f"{motion}.mp4"
        result = sitter(*render_args(out, portrait, "--motion", motion, "--json"))
        assert result.exit_code == 0, (motion, result.output)
        assert json.loads(result.stdout)["frames"] == 25
        info = probe(out)
        assert (info.width, info.height) == (512, 512)
    settings = Settings.from_env({"SITTER_HOME": str(home)})
    with settings.open_registry() as registry, settings.open_ledger() as ledger:
        report = verify(out, trust_anchors=settings.known_trust_anchors(), registry=registry, ledger=ledger)
        assert ledger.get(record_id).uses == len(PRESETS)
    assert report.verdict is Verdict.LABELED and report.manifest.trusted
    assert report.consent.record_id == record_id and report.consent.status == "active"


@pytest.mark.parametrize("portrait", PORTRAITS)
def test_every_portrait_follows_a_driving_track_for_its_length(sitter, consented, portrait: str,
                                                               tmp_path: Path) -> None:
    consented(portrait)
    out = tmp_path / "driven.mp4"
    result = sitter(*render_args(out, portrait), "--seconds", "30", "--driver", DATA / "driving_a_50.landmarks.json")
    assert result.exit_code == 0, result.output
    assert probe(out).frames == 50


def test_a_driving_video_with_its_track(sitter, consented, tmp_path: Path) -> None:
    consented()
    video, out = tmp_path / "performance.mp4", tmp_path / "driven.mp4"
    write_mp4([np.full((64, 64, 3), i * 5, np.uint8) for i in range(50)], video, fps=25)
    track = DATA / "driving_a_50.landmarks.json"
    result = sitter(*render_args(out), "--seconds", "1.2", "--driver", video, "--driver-landmarks", track)
    assert result.exit_code == 0, result.output
    assert probe(out).frames == 30
    write_mp4([np.zeros((64, 64, 3), np.uint8)] * 20, video, fps=25)
    mismatch = sitter(*render_args(tmp_path / "other.mp4"), "--driver", video, "--driver-landmarks", track)
    assert mismatch.exit_code == 2 and "track has 50 frames, the video 20" in mismatch.output


@pytest.mark.parametrize(
    ("setup", "extra"),
    [
        (lambda add, sitter: None, []),  # no record at all
        (lambda add, sitter: add(purpose="exhibit"), []),  # wrong purpose
        (lambda add, sitter: sitter("consent", "revoke", add(), "--reason", "withdrawn"), []),
        (lambda add, sitter: add(PORTRAITS[1]), []),  # a record, but for another image
    ],
    ids=["no-record", "wrong-purpose", "revoked", "other-image"],
)
def test_refused_renders_exit_3_and_write_nothing(sitter, consented, tmp_path: Path, setup, extra) -> None:
    setup(consented, sitter)
    out = tmp_path / "outputs" / "refused.mp4"
    result = sitter(*render_args(out), *extra)
    assert result.exit_code == 3, result.output
    assert result.output.startswith("Error: ") and "Ada" not in result.output
    assert not out.exists()


def test_a_revocation_during_the_render_leaves_no_output(consented, home: Path, tmp_path: Path) -> None:
    record_id = consented()
    settings = Settings.from_env({"SITTER_HOME": str(home)})
    out = tmp_path / "outputs" / "late.mp4"
    request = RenderRequest(sources=(DATA / PORTRAITS[0],), landmarks=(DATA / "einstein_photo.landmarks.json",),
                            purpose="marketing", operator="desk-1", out=out, seconds=2)
    with settings.open_studio() as studio:

        def revoke_halfway(done: int, total: int) -> None:
            if done == total // 2:
                studio.ledger.revoke(record_id, reason="withdrawn mid-render", operator="desk-2")

        with pytest.raises(ConsentRevoked):
            render(request, studio, revoke_halfway)
        assert studio.registry.entries() == [] and studio.ledger.get(record_id).uses == 0
    assert list(out.parent.iterdir()) == []


def test_killing_the_render_process_leaves_no_file(consented, env: dict[str, str], home: Path,
                                                  tmp_path: Path) -> None:
    consented()
    out = tmp_path / "outputs" / "killed.mp4"
    args = [sys.executable, "-m", "studio.cli", *map(str, render_args(out)), "--seconds", "60"]
    process = subprocess.Popen(args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while not any((home / "work").glob("*/unsigned.mp4")):  # mid-encode, in its work folder under SITTER_HOME
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists() and list(out.parent.iterdir()) == []  # nothing beside --out either
    assert CliRunner().invoke(cli, [*map(str, render_args(out))], env=env).exit_code == 0  # at once, not an hour on
    assert [p.name for p in out.parent.iterdir()] == ["killed.mp4"]  # published
    assert list((home / "work").iterdir()) == []  # the dead render's folder swept


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a, p: _swap(a, "--source", p / "empty.jpg"), "image is empty"),
        (lambda a, p: _swap(a, "--source", p / "notes.jpg"), "not an image"),
        (lambda a, p: [*a, "--driver", p / "broken.mp4"], "driving video"),
        (lambda a, p: [*a, "--driver", p / "bad.json"], '"fps" must be a positive number'),
        (lambda a, p: _swap(a, "--landmarks", p / "bad.json"), 'has no "faces" list'),
        (lambda a, p: [*a, "--size", "333"], "size must be even"),
        (lambda a, p: _swap(a, "--out", p / "video.avi"), "must be an .mp4"),
        (lambda a, p: [*a, "--motion", "talk", "--driver", p / "bad.json"], "not both"),
    ],
    ids=["empty-image", "not-an-image", "broken-driver", "bad-track", "bad-landmarks", "odd-size", "not-mp4",
         "driver-and-motion"],
)
def test_bad_input_exits_2_with_one_line(sitter, consented, tmp_path: Path, change, message: str) -> None:
    consented()
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not a picture")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100)
    (tmp_path / "bad.json").write_text('{"convention": "ibug68", "frames": [[1, 2]]}')
    out = tmp_path / "outputs" / "bad.mp4"
    result = sitter(*change(render_args(out), tmp_path))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("Error: ") and message in lines[-1]
    assert len(lines) == 1 or lines[0].startswith("Usage: ")  # click repeats the usage for conflicting flags
    assert not out.exists()


def test_the_visible_label_is_configurable(sitter, consented, tmp_path: Path) -> None:
    consented()
    out = tmp_path / "custom.mp4"
    result = sitter(*render_args(out), "--label", "Synthetic video", "--label-corner", "bottom-left",
                    "--motion", "idle")
    assert result.exit_code == 0, result.output
    plain = tmp_path / "plain.mp4"
    assert sitter(*render_args(plain), "--no-visible-label", "--motion", "idle").exit_code == 0
    labeled, unlabeled = next(read_frames(out)).astype(int), next(read_frames(plain)).astype(int)
    differs = np.abs(labeled - unlabeled).sum(axis=2) > 60
    assert differs[400:490].any()  # the caption, low in the frame
    assert differs[470:, :60].any() and not differs[:60, 450:].any()  # the mark bottom-left, none top-right


def test_no_visible_label_still_watermarks_and_signs(sitter, consented, tmp_path: Path) -> None:
    consented()
    out = tmp_path / "plain.mp4"
    assert sitter(*render_args(out), "--no-visible-label").exit_code == 0
    report = verify(out)
    assert report.verdict is Verdict.LABELED and report.watermark.found


def test_demo_makes_a_verified_video_offline(sitter, home: Path) -> None:
    result = sitter("demo", "--seconds", "2", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["report"]["verdict"] == "labeled" and data["report"]["c2pa"]["trusted"]
    assert Path(data["output"]["path"]).parent == home / "outputs"
    again = json.loads(sitter("demo", "--seconds", "1", "--json").stdout)
    assert again["record_id"] == data["record_id"]  # the sample's rights record is added once


# helpers


def _swap(args: list[object], option: str, value: object) -> list[object]:
    args = list(args)
    args[args.index(option) + 1] = value
    return args
