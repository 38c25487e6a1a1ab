"""The `--json` outputs of `verify`, `consent show` and `consent list` stay what scripts already read: each is compared,
text for text, with a fixture recorded from an earlier version, once the values that differ on every run (ids, hashes,
times, confidences) are replaced by placeholders. Set SITTER_RECORD_FIXTURES=1 to record them again, on purpose."""

import os
import re
from pathlib import Path

import pytest

from provenance.video import read_frames, write_mp4

DATA = Path(__file__).parent / "data"
FIXTURES = DATA / "json"
PORTRAIT, LANDMARKS = DATA / "einstein_photo.jpg", DATA / "einstein_photo.landmarks.json"
VOLATILE = [  # most specific first
    (re.compile(r"(urn:(c2pa|uuid)|xmp\.iid):[0-9a-f-]+"), "<urn>"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "<time>"),
    (re.compile(r"\b\d{4}-\d\d-\d\d\b"), "<date>"),
    (re.compile(r"sitter-[0-9a-f]{16}"), "<output>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"\b[0-9a-f]{16}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{8}\b"), "<watermark>"),
    (re.compile(r'"[A-Za-z0-9+/]{40,}={0,2}"'), '"<base64>"'),
    (re.compile(r"-?\d+\.\d+(e-?\d+)?"), "<number>"),
    (re.compile(r"\"(bytes|manifest_bytes|frames_examined|frames_found)\": \d+"), r'"\1": <count>'),
]


@pytest.fixture
def studio(consent_to, sitter, home: Path, evidence: Path, tmp_path: Path):
    """Two records (a person's, used once and then revoked; an artwork's) and one labeled clip of the first."""
    person = consent_to(PORTRAIT, purposes=("marketing", "speech"))
    artwork = sitter("consent", "add", "--kind", "artwork", "--name", "Woman in Black", "--creator",
                     "John Singer Sargent", "--rights", "public-domain", "--grantor", "Registrar", "--purpose",
                     "exhibit", "--expires", "2099-12-31", "--evidence", evidence, "--image",
                     DATA / "sargent_woman_in_black.jpg", "--date", "c. 1890", "--institution", "A Museum")
    artwork = artwork.output.strip()
    clip = tmp_path / "clip.mp4"
    rendered = sitter("render", "--source", PORTRAIT, "--landmarks", LANDMARKS, "--purpose", "marketing",
                      "--seconds", "0.4", "--size", "256", "--motion", "idle", "--out", clip)
    assert rendered.exit_code == 0, rendered.output
    stripped = tmp_path / "stripped.mp4"
    write_mp4(read_frames(clip), stripped, 25)
    sitter("consent", "revoke", person, "--reason", "withdrew by email")
    return {"person": person, "artwork": artwork, "clip": clip, "stripped": stripped}


def test_json_outputs_match_their_recorded_fixtures(sitter, studio: dict) -> None:
    outputs = {
        "consent-list": sitter("consent", "list", "--json"),
        "consent-show-person": sitter("consent", "show", studio["person"], "--json"),
        "consent-show-artwork": sitter("consent", "show", studio["artwork"], "--json"),
        "verify-labeled": sitter("verify", studio["clip"], "--json"),
        "verify-stripped": sitter("verify", studio["stripped"], "--json"),
    }
    for name, result in outputs.items():
        assert result.exit_code == 0, (name, result.output)
        text = _normalized(result.stdout)
        fixture = FIXTURES / f"{name}.json"
        if os.environ.get("SITTER_RECORD_FIXTURES"):
            FIXTURES.mkdir(exist_ok=True)
            fixture.write_text(text)
        assert text == fixture.read_text(), name


def _normalized(text: str) -> str:
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text
