"""`sitter verify` reads any video FFmpeg decodes: a Sitter clip copied into WebM, Matroska, MOV, AVI or an animated
GIF is traced by its watermark, and its manifest is checked where the format can carry one (c2pa reads MOV, AVI and
GIF; WebM and Matroska have no place for one)."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from copies import COPIES, transcode
from PIL import Image

from provenance.video import read_frames

DATA = Path(__file__).parent / "data"
PORTRAIT, LANDMARKS = DATA / "einstein_photo.jpg", DATA / "einstein_photo.landmarks.json"
CONTAINERS = {"copy.webm": "WebM", "copy.mkv": "Matroska", "copy.mov": "MOV", "copy.avi": "AVI", "copy.gif": "GIF"}
CARRIES_C2PA = {"copy.webm": False, "copy.mkv": False, "copy.mov": True, "copy.avi": True, "copy.gif": True}


@pytest.fixture
def rendered(consent_to, sitter, tmp_path: Path) -> Path:
    """A labeled clip rendered by the studio, 10 frames of 256x256, its manifest in the studio's registry."""
    consent_to(PORTRAIT)
    clip = tmp_path / "clip.mp4"
    result = sitter("render", "--source", PORTRAIT, "--landmarks", LANDMARKS, "--purpose", "marketing",
                    "--seconds", "0.4", "--size", "256", "--motion", "idle", "--out", clip)
    assert result.exit_code == 0, result.output
    return clip


@pytest.fixture
def verifier(tmp_path: Path):
    """`sitter verify --json` on a machine with no studio database: its report, and its exit code."""
    from click.testing import CliRunner

    from studio.cli import cli

    def run(clip: Path, *args: str):
        env = {"SITTER_HOME": str(tmp_path / "verifier-home"), "SITTER_DB_URL": ""}
        return CliRunner().invoke(cli, ["verify", str(clip), *args], env=env)

    return run


def report_of(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", list(COPIES))
def test_a_copy_in_another_container_is_traced_by_its_watermark(rendered: Path, sitter, verifier, tmp_path: Path,
                                                                name: str) -> None:
    original = report_of(sitter("verify", rendered, "--json"))
    assert original["verdict"] == "labeled" and original["file"]["container"] == "MP4"
    copy = transcode(read_frames(rendered), tmp_path / name, name)
    report = report_of(sitter("verify", copy, "--json"))
    assert report["verdict"] == "labeled-stripped", report["summary"]
    assert (report["file"]["container"], report["file"]["width"]) == (CONTAINERS[name], 256)
    assert report["watermark"]["wm_id"] == original["watermark"]["wm_id"] and report["binding"]["match"]
    c2pa = report["c2pa"]
    assert not c2pa["present"] and c2pa["format_carries_c2pa"] is CARRIES_C2PA[name]
    recovered = report["registry"]["manifest"]
    assert recovered["signer"] == "Sitter development signer"
    assert recovered["consent"] == original["c2pa"]["consent"] and report["consent"]["status"] == "active"
    assert "assertion.bmffHash.mismatch" in recovered["failures"]  # signed, but not this file
    elsewhere = report_of(verifier(copy, "--json"))  # no registry there
    assert elsewhere["verdict"] == "watermark-only"
    assert elsewhere["watermark"]["wm_id"] == original["watermark"]["wm_id"]


def test_the_text_report_names_the_format_and_why_it_has_no_manifest(rendered: Path, verifier,
                                                                     tmp_path: Path) -> None:
    copy = transcode(read_frames(rendered), tmp_path / "copy.webm", "copy.webm")
    result = verifier(copy)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "verdict     watermark-only"
    assert "file        WebM (vp9), 256x256, 25 fps" in lines
    assert "c2pa        none: WebM files cannot carry a C2PA manifest" in lines


def test_an_avi_cut_off_mid_download_is_still_traced(rendered: Path, sitter, tmp_path: Path) -> None:
    """c2pa cannot parse a truncated AVI's structure, FFmpeg still decodes most of its frames: no manifest can be
    read from it, which is not tampering, and the watermark decides."""
    whole = transcode(read_frames(rendered), tmp_path / "whole.avi", "copy.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(whole[: len(whole) * 3 // 4])
    report = report_of(sitter("verify", cut, "--json"))
    assert report["verdict"] == "labeled-stripped", report["summary"]
    assert report["c2pa"]["format_carries_c2pa"] and not report["c2pa"]["container_parsed"]
    assert report["c2pa"]["failures"] == []


def test_an_unmarked_webm_is_unlabeled(verifier, tmp_path: Path) -> None:
    still = cv2.resize(np.array(Image.open(PORTRAIT).convert("RGB")), (257, 301), interpolation=cv2.INTER_AREA)
    plain = transcode([np.roll(still, i, axis=1) for i in range(8)], tmp_path / "plain.webm", "copy.webm")
    report = report_of(verifier(plain, "--json"))
    assert report["verdict"] == "unlabeled" and not report["watermark"]["found"]
    assert (report["file"]["container"], report["file"]["width"], report["file"]["height"]) == ("WebM", 257, 301)
    assert not report["c2pa"]["format_carries_c2pa"]


def test_a_webm_that_is_not_a_video_is_one_line_and_exit_2(verifier, tmp_path: Path) -> None:
    garbage = tmp_path / "clip.webm"
    garbage.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(range(256)) * 8)  # an EBML magic, then noise
    result = verifier(garbage)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("Error: not a video Sitter can read")
