"""The bad-input corpus: every way the red team fed Sitter garbage, through the command line as a user types it.

Each case must end with its exit code (2 bad input, 3 consent refused), exactly one line on stderr, no traceback, and
nothing written: no output, no ledger or registry row, no work folder left behind.
"""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from attacker import png_bomb

from provenance.video import write_mp4

DATA = Path(__file__).parent / "data"
PORTRAIT, LANDMARKS = DATA / "einstein_photo.jpg", DATA / "einstein_photo.landmarks.json"
TRACK = DATA / "driving_a_50.landmarks.json"


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bad files, made once: each a real file of the kind a user might pick by mistake or an attacker craft."""
    root = tmp_path_factory.mktemp("kit")
    faces = json.loads(LANDMARKS.read_text())
    track = json.loads(TRACK.read_text())

    def write(name: str, content: bytes | str) -> Path:
        path = root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def scaled(factor: float) -> str:
        face = faces["faces"][0]
        points = face["points"] if isinstance(face, dict) else face
        scaled_points = [[x * factor, y * factor] for x, y in points]
        return json.dumps({**faces, "faces": [{**face, "points": scaled_points} if isinstance(face, dict)
                                              else scaled_points]})

    silent = root / "silent.mp4"
    write_mp4((np.full((64, 64, 3), 90, np.uint8) for _ in range(10)), silent, fps=10)
    return {
        "empty.png": write("empty.png", b""),
        "text.png": write("text.png", "a shopping list, not a picture\n"),
        "cut.jpg": write("cut.jpg", PORTRAIT.read_bytes()[:3000]),
        "bomb.png": write("bomb.png", png_bomb(30000, 30000)),
        "folder": _folder(root / "folder"),
        "x20.json": write("x20.json", scaled(20)),
        "x1000.json": write("x1000.json", scaled(1000)),
        "huge.json": write("huge.json", scaled(1).replace("[", "[1e308, ", 1) if False else
                           json.dumps({**faces, "faces": [[[1e308, 1e308]] * 68]})),
        "deep.json": write("deep.json", "[" * 100_000 + "]" * 100_000),
        "notjson.json": write("notjson.json", "{this is not json"),
        "67.json": write("67.json", json.dumps({**faces, "faces": [[[100.0, 100.0]] * 67]})),
        "empty.mp4": write("empty.mp4", b""),
        "text.mp4": write("text.mp4", "not a video at all\n"),
        "cut.mp4": write("cut.mp4", silent.read_bytes()[:400]),
        "fast.json": write("fast.json", json.dumps({**track, "fps": 1e9})),
        "noframes.json": write("noframes.json", json.dumps({**track, "frames": []})),
        "deeptrack.json": write("deeptrack.json", "{\"fps\": 25, \"frames\": " + "[" * 100_000 + "]" * 100_000 + "}"),
        "silent.mp4": silent,
        "text.wav": write("text.wav", "RIFF? no, just text\n"),
        "empty.wav": write("empty.wav", b""),
        "ckpt.pt": write("ckpt.pt", b"not a checkpoint"),
        "anchor.pem": write("anchor.pem", "-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n"),
        "existing.mp4": write("existing.mp4", b"someone's earlier video"),
    }


@pytest.fixture
def studio(consent_to, sitter, home: Path):
    """A fresh studio with one record covering the portrait for marketing and speech; `run` runs a command in it."""
    consent_to(PORTRAIT, purposes=("marketing", "speech"))
    return home, sitter


def render(out: Path, *extra: object, source: object = PORTRAIT, landmarks: object = LANDMARKS) -> list[object]:
    return ["render", "--source", source, *(["--landmarks", landmarks] if landmarks else []), "--purpose", "marketing",
            "--seconds", "0.2", "--size", "256", "--out", out, *extra]


CASES = {
    # images
    "source missing": (2, lambda k, o: render(o, source=k["folder"] / "nobody.jpg")),
    "source empty": (2, lambda k, o: render(o, source=k["empty.png"])),
    "source a text file": (2, lambda k, o: render(o, source=k["text.png"])),
    "source truncated": (2, lambda k, o: render(o, source=k["cut.jpg"])),
    "source a decompression bomb": (2, lambda k, o: render(o, source=k["bomb.png"])),
    "source a folder": (2, lambda k, o: render(o, source=k["folder"])),
    "source not covered": (3, lambda k, o: render(o, source=DATA / "astronaut.jpg", landmarks=None)),
    # landmarks
    "landmarks x20": (2, lambda k, o: render(o, landmarks=k["x20.json"])),
    "landmarks x1000": (2, lambda k, o: render(o, landmarks=k["x1000.json"])),
    "landmarks 1e308": (2, lambda k, o: render(o, landmarks=k["huge.json"])),
    "landmarks 100k deep": (2, lambda k, o: render(o, landmarks=k["deep.json"])),
    "landmarks not JSON": (2, lambda k, o: render(o, landmarks=k["notjson.json"])),
    "landmarks 67 points": (2, lambda k, o: render(o, landmarks=k["67.json"])),
    "landmarks missing": (2, lambda k, o: render(o, landmarks=k["folder"] / "none.json")),
    "landmarks for two sources, one given": (2, lambda k, o: render(o, "--landmarks", LANDMARKS)),
    # drivers
    "driver missing": (2, lambda k, o: render(o, "--driver", k["folder"] / "gone.mp4")),
    "driver empty": (2, lambda k, o: render(o, "--driver", k["empty.mp4"])),
    "driver a text file": (2, lambda k, o: render(o, "--driver", k["text.mp4"])),
    "driver truncated": (2, lambda k, o: render(o, "--driver", k["cut.mp4"], "--no-audio")),
    "driver track at 1e9 fps": (2, lambda k, o: render(o, "--driver", k["fast.json"])),
    "driver track with no frames": (2, lambda k, o: render(o, "--driver", k["noframes.json"])),
    "driver track 100k deep": (2, lambda k, o: render(o, "--driver", k["deeptrack.json"])),
    "driver track for another video": (2, lambda k, o: render(o, "--driver", k["silent.mp4"], "--driver-landmarks",
                                                              TRACK)),
    # voices
    "voice missing": (2, lambda k, o: render(o, "--audio", k["folder"] / "gone.wav")),
    "voice empty": (2, lambda k, o: render(o, "--audio", k["empty.wav"])),
    "voice a text file": (2, lambda k, o: render(o, "--audio", k["text.wav"])),
    "voice a video without sound": (2, lambda k, o: render(o, "--audio", k["silent.mp4"])),
    "say and audio together": (2, lambda k, o: render(o, "--say", "hello", "--audio", k["silent.mp4"])),
    "voice without say": (2, lambda k, o: render(o, "--voice", "f3")),
    # options
    "seed -1": (2, lambda k, o: render(o, "--seed", "-1")),
    "fps 0": (2, lambda k, o: render(o, "--fps", "0")),
    "fps nan": (2, lambda k, o: render(o, "--fps", "nan")),
    "fps 1e9": (2, lambda k, o: render(o, "--fps", "1e9")),
    "seconds 0": (2, lambda k, o: render(o, "--seconds", "0")),
    "seconds 1e9": (2, lambda k, o: render(o, "--seconds", "1e9")),
    "size 7": (2, lambda k, o: render(o, "--size", "7")),
    "size 100000": (2, lambda k, o: render(o, "--size", "100000")),
    "out not an mp4": (2, lambda k, o: render(o.with_suffix(".avi"))),
    "out under /proc": (2, lambda k, o: render(Path("/proc/sitter-out/clip.mp4"))),
    "out already there": (2, lambda k, o: render(k["existing.mp4"])),
    "out a folder": (2, lambda k, o: render(k["folder"])),
    "neural without checkpoint": (2, lambda k, o: render(o, "--engine", "neural")),
    "neural with a bad checkpoint": (2, lambda k, o: render(o, "--engine", "neural", "--checkpoint", k["ckpt.pt"])),
    "fine-tuning the warp engine": (2, lambda k, o: render(o, "--finetune-steps", "5")),
    "caption with an escape sequence": (2, lambda k, o: render(o, "--label", "AI \x1b[2J")),
    "caption far too long": (2, lambda k, o: render(o, "--label", "generated " * 400)),
    "unknown purpose": (2, lambda k, o: ["render", "--source", PORTRAIT, "--purpose", "advertising", "--out", o]),
    "unknown record": (2, lambda k, o: render(o, "--consent", "feedfacefeedface")),
    "purpose not allowed": (3, lambda k, o: ["render", "--source", PORTRAIT, "--purpose", "exhibit", "--out", o]),
    "empty text to say": (2, lambda k, o: render(o, "--say", "   ")),
    # verify
    "verify missing": (2, lambda k, o: ["verify", k["folder"] / "gone.mp4"]),
    "verify empty": (2, lambda k, o: ["verify", k["empty.mp4"]]),
    "verify a text file": (2, lambda k, o: ["verify", k["text.mp4"]]),
    "verify a folder": (2, lambda k, o: ["verify", k["folder"]]),
    "verify with a bad trust anchor": (2, lambda k, o: ["verify", k["silent.mp4"], "--trust-anchor",
                                                        k["anchor.pem"]]),
    # consent
    "name with a newline": (2, lambda k, o: ["consent", "add", "--kind", "person", "--name", "Ada\nEve",
                                             "--grantor", "Ada", "--purpose", "marketing", "--expires", "2099-01-01",
                                             "--evidence", PORTRAIT, "--image", PORTRAIT]),
    "revoke reason with an escape": (2, lambda k, o: ["consent", "revoke", "feedfacefeedface", "--reason", "\x1b[31m"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_leaves_nothing(studio, kit: dict[str, Path], tmp_path: Path, case: str) -> None:
    home, run = studio
    code, make = CASES[case]
    out_dir = tmp_path / "outs"
    out_dir.mkdir()
    before = _rows(home)
    existing = kit["existing.mp4"].read_bytes()
    result = run(*make(kit, out_dir / "clip.mp4"))
    assert result.exit_code == code, (case, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), (case, result.stderr)
    assert "Traceback" not in result.output
    assert str(tmp_path) not in result.stderr and str(DATA) not in result.stderr  # options, not file names
    assert not any(out_dir.iterdir()), case
    assert kit["existing.mp4"].read_bytes() == existing
    assert _rows(home) == before, case
    assert not any((home / "work").glob("*")), case


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 40


# helpers


def _rows(home: Path) -> dict[str, int]:
    with sqlite3.connect(home / "sitter.db") as db:
        return {table: db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("ledger_events", "personal_data", "provenance_manifests")}


def _folder(path: Path) -> Path:
    path.mkdir()
    return path
