"""The red team's smaller holes, each reproduced: a source swapped mid-render, 16-bit images, an output that already
exists, names that would rewrite the terminal, file names in error messages."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from consent import fingerprint
from engine import WarpConfig, WarpEngine
from provenance.video import read_frames
from sitter.images import read_image
from studio.pipeline import RenderRequest, render
from studio.settings import Settings

DATA = Path(__file__).parent / "data"
PORTRAIT = "einstein_photo.jpg"


@pytest.fixture
def covered(consent_to, tmp_path: Path) -> Path:
    """A portrait under a marketing record, copied so that a test may swap it."""
    portrait = tmp_path / "sitter.png"
    Image.open(DATA / PORTRAIT).save(portrait)
    consent_to(portrait)
    return portrait


class SwappingEngine(WarpEngine):
    """An attacker who replaces the source file with an inverted face after the gate checked it."""

    def __init__(self, source: Path) -> None:
        super().__init__(WarpConfig(size=256))
        self.source = source

    def prepare(self, sources, landmarks=None):
        pixels = np.asarray(Image.open(self.source).convert("RGB"))
        Image.fromarray(255 - pixels).save(self.source)
        return super().prepare(sources, landmarks)


def _first_frame(studio, portrait: Path, out: Path) -> np.ndarray:
    request = RenderRequest(sources=(portrait,), landmarks=(DATA / PORTRAIT.replace(".jpg", ".landmarks.json"),),
                            purpose="marketing", operator="desk-1", out=out, seconds=0.2, size=256, disclosure=None)
    render(request, studio)
    return next(read_frames(out)).astype(np.float64)


def test_a_source_swapped_after_the_gate_is_not_what_gets_animated(covered: Path, home: Path, tmp_path: Path) -> None:
    settings = Settings.from_env({"SITTER_HOME": str(home)})
    with settings.open_studio() as studio:
        honest = _first_frame(studio, covered, tmp_path / "honest.mp4")
        swapped = _first_frame(dataclasses.replace(studio, engine=SwappingEngine(covered)), covered,
                               tmp_path / "swapped.mp4")
    assert fingerprint(covered).sha256 != fingerprint(DATA / PORTRAIT).sha256  # the file really was swapped
    assert np.abs(honest - swapped).mean() < 8  # two watermark ids apart; an inverted face is ~100 grey levels off


def test_16_bit_greyscale_is_scaled_not_clipped_to_white(tmp_path: Path) -> None:
    grey = np.asarray(Image.open(DATA / PORTRAIT).convert("L"), dtype=np.uint16) * 257
    path = tmp_path / "grey16.png"
    Image.fromarray(grey).save(path)
    assert Image.open(path).mode.startswith("I;16")
    pixels = read_image(path)
    assert pixels.dtype == np.uint8 and pixels.shape[2] == 3
    assert np.abs(pixels[..., 0].astype(int) - grey // 257).max() <= 1
    assert pixels.std() > 20  # a picture, not a blank white frame


def test_an_existing_output_is_kept_unless_overwrite(sitter, covered: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"someone's earlier video")
    args = ["render", "--source", covered, "--landmarks", DATA / PORTRAIT.replace(".jpg", ".landmarks.json"),
            "--purpose", "marketing", "--seconds", "0.2", "--size", "256", "--out", out]
    refused = sitter(*args)
    assert refused.exit_code == 2 and "--overwrite" in refused.output
    assert out.read_bytes() == b"someone's earlier video"
    replaced = sitter(*args, "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert out.read_bytes()[4:8] == b"ftyp"


@pytest.mark.parametrize("name", ["Ada\nfeedfacefeedface  person  active", "Ada \x1b[2J\x1b[31mRED", "Ada\rEve",
                                  "Ada\x00", "Ada\u202eeve"])
def test_control_characters_in_a_name_are_refused(sitter, covered: Path, evidence: Path, name: str) -> None:
    result = sitter("consent", "add", "--kind", "person", "--name", name, "--grantor", "Ada Example",
                    "--purpose", "marketing", "--expires", "2099-01-01", "--evidence", evidence, "--image", covered)
    assert result.exit_code == 2 and "control character" in result.output, result.output
    assert len(json.loads(sitter("consent", "list", "--json").output)) == 1


def test_control_characters_already_stored_are_escaped_when_shown(sitter, covered: Path, home: Path,
                                                                   evidence: Path, monkeypatch) -> None:
    import consent.ledger

    monkeypatch.setattr(consent.ledger, "printable", lambda value, what: value)  # a record from before the check
    with Settings.from_env({"SITTER_HOME": str(home)}).open_ledger() as ledger:
        ledger.grant(kind="person", name="Bea\nfeedfacefeedface  person  active", grantor="\x1b[2JX",
                     purposes=["internal"], expires="2099-01-01", evidence=evidence,
                     images=[covered], operator="desk-1")
    listed = sitter("consent", "list")
    assert "\x1b" not in listed.output and len(listed.output.strip().splitlines()) == 3
    assert "Bea\\u000afeedface" in listed.output


def test_errors_name_the_option_not_the_file(sitter, covered: Path, tmp_path: Path) -> None:
    private = tmp_path / "jane-doe-passport.png"
    shutil.copy(covered, private)
    missing = tmp_path / "john-roe.png"
    result = sitter("render", "--source", private, "--source", missing, "--purpose", "marketing",
                    "--out", tmp_path / "out.mp4")
    assert result.exit_code == 2
    assert "--source #2" in result.output and "john" not in result.output and "jane" not in result.output
