"""A stage publishes only fully labeled videos, and verify tells every kind of clip apart."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from consent import ConsentRevoked, Ledger, authorize
from provenance import ConsentRef, Registry, Verdict, stage, verify
from provenance.errors import FrameTooSmall, UnreadableMedia
from provenance.manifest import read_manifest
from provenance.verifier import ConsentStatus
from provenance.video import read_frames, write_mp4
from studio.cli import cli

FPS = 25


def portrait_frames(portrait: Path, count: int = 50) -> list[np.ndarray]:
    """A real face, gently moving: what an engine would hand over, 384x512."""
    still = cv2.resize(np.array(Image.open(portrait).convert("RGB")), (384, 512), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(count):
        shift = np.float32([[1, 0, 3 * np.sin(i / 6)], [0, 1, 2 * np.cos(i / 8)]])
        frames.append(cv2.warpAffine(still, shift, (384, 512), borderMode=cv2.BORDER_REFLECT))
    return frames


@pytest.fixture
def registry(ledger: Ledger, tmp_path: Path) -> Registry:
    with Registry(f"sqlite:///{tmp_path / 'ledger.db'}") as registry:
        yield registry


@pytest.fixture
def grant(ledger: Ledger, add, portrait: Path):
    add([portrait], name="Ada Example", grantor="Bob Grantor", purposes=["marketing"])
    return authorize(ledger, [portrait], "marketing", "tester")


@pytest.fixture
def publish(grant, signer, registry, ledger, portrait: Path, tmp_path: Path):
    """The render pipeline's steps from frames on: label, register, re-check and log the use, commit. `meanwhile`
    runs just before the re-check."""

    def publish(out: Path | None = None, frames=None, meanwhile=None):
        with stage(out or tmp_path / "outputs" / "video.mp4", registry=registry, work_dir=tmp_path / "work") as s:
            signed = s.label(portrait_frames(portrait) if frames is None else frames, FPS, grant.sources,
                             ConsentRef(grant.record_id, grant.record_hash), signer=signer, engine="test-engine",
                             engine_version="1")
            s.register()
            if meanwhile is not None:
                meanwhile()
            ledger.record_render(grant, output_id=signed.output_id, output_sha256=signed.sha256)
            return s.commit()

    return publish


@pytest.fixture
def labeled(publish) -> Path:
    return publish().path


def test_a_published_video_verifies_labeled_and_trusted(labeled: Path, grant, signer, registry, ledger) -> None:
    report = verify(labeled, trust_anchors=[signer.trust_anchor], registry=registry, ledger=ledger)
    assert report.verdict is Verdict.LABELED
    assert report.manifest.validation_state == "Trusted" and report.manifest.trusted
    assert report.watermark.found and report.binding.match
    assert report.consent == ConsentStatus(record_id=grant.record_id, record_hash=grant.record_hash, status="active")
    assert report.manifest.digital_source_type.endswith("trainedAlgorithmicMedia")
    assert [i.sha256 for i in report.manifest.ingredients] == [s.sha256 for s in grant.sources]
    assert report.registry.found and report.file.video.frames == 50
    assert "made by AI with Sitter" in report.summary


def test_without_the_studio_anchor_it_is_valid_but_untrusted(labeled: Path) -> None:
    report = verify(labeled)
    assert report.verdict is Verdict.LABELED
    assert report.manifest.validation_state == "Valid" and not report.manifest.trusted
    assert report.consent.status == "unknown" and not report.registry.available


def test_no_personal_data_in_the_manifest(labeled: Path, grant) -> None:
    store = read_manifest(labeled).store_json
    for secret in ("Ada Example", "Bob Grantor", "tester", "portrait.jpg"):
        assert secret not in store
    consent = [a for m in json.loads(store)["manifests"].values() for a in m["assertions"]
               if a["label"] == "org.sitter.consent"]
    assert consent == [{"label": "org.sitter.consent",
                        "data": {"record_id": grant.record_id, "record_hash": grant.record_hash}}]


def test_a_flipped_frame_byte_is_tampered(labeled: Path, tmp_path: Path, signer) -> None:
    data = bytearray(labeled.read_bytes())
    mdat = data.index(b"mdat")
    for offset in range(mdat + 2000, mdat + 2010):
        data[offset] ^= 0xFF
    edited = tmp_path / "edited.mp4"
    edited.write_bytes(data)
    report = verify(edited, trust_anchors=[signer.trust_anchor])
    assert report.verdict is Verdict.TAMPERED
    assert any("mismatch" in code for code in report.manifest.failures)


def test_a_flipped_manifest_byte_is_tampered(labeled: Path, tmp_path: Path, grant, signer) -> None:
    data = labeled.read_bytes()
    forged = grant.record_id[:-1] + ("0" if grant.record_id[-1] != "0" else "1")
    edited = tmp_path / "edited.mp4"
    edited.write_bytes(data.replace(grant.record_id.encode(), forged.encode()))
    report = verify(edited, trust_anchors=[signer.trust_anchor])
    assert report.verdict is Verdict.TAMPERED


def test_a_reencoded_copy_is_labeled_stripped_with_its_consent(labeled: Path, tmp_path: Path, grant, signer,
                                                               registry, ledger) -> None:
    copy = tmp_path / "reencoded.mp4"
    write_mp4(read_frames(labeled), copy, FPS, crf=26)  # what a platform's transcoder does
    report = verify(copy, trust_anchors=[signer.trust_anchor], registry=registry, ledger=ledger)
    assert report.verdict is Verdict.LABELED_STRIPPED
    assert not report.manifest.present and report.binding.match
    assert report.consent.record_id == grant.record_id and report.consent.status == "active"
    assert report.registry.manifest.signer == "Sitter development signer"
    ledger.revoke(grant.record_id, reason="r", operator="tester")
    later = verify(copy, registry=registry, ledger=ledger)
    assert later.consent.status == "revoked"


def test_a_reencoded_copy_without_the_registry_is_watermark_only(labeled: Path, tmp_path: Path) -> None:
    copy = tmp_path / "reencoded.mp4"
    write_mp4(read_frames(labeled), copy, FPS, crf=26)
    assert verify(copy).verdict is Verdict.WATERMARK_ONLY


def test_an_unmarked_video_is_unlabeled(portrait: Path, tmp_path: Path, registry) -> None:
    plain = tmp_path / "plain.mp4"
    write_mp4(portrait_frames(portrait), plain, FPS)
    report = verify(plain, registry=registry)
    assert report.verdict is Verdict.UNLABELED
    assert not report.watermark.found and not report.manifest.present


def test_a_revocation_before_publishing_leaves_nothing(publish, ledger, grant, registry, tmp_path: Path) -> None:
    def revoke() -> None:
        ledger.revoke(grant.record_id, reason="withdrawn mid-render", operator="tester")

    out = tmp_path / "outputs" / "video.mp4"
    with pytest.raises(ConsentRevoked):
        publish(out, meanwhile=revoke)
    assert list(out.parent.iterdir()) == []
    assert registry.entries() == []


def test_frames_too_small_leave_nothing(publish, registry, tmp_path: Path) -> None:
    out = tmp_path / "outputs" / "small.mp4"
    with pytest.raises(FrameTooSmall):
        publish(out, frames=[np.zeros((128, 128, 3), np.uint8)] * 10)
    assert list(out.parent.iterdir()) == [] and registry.entries() == []


def test_each_output_gets_its_own_watermark_id(publish, portrait: Path, tmp_path: Path, registry) -> None:
    first = publish(tmp_path / "a.mp4", frames=portrait_frames(portrait, 12))
    second = publish(tmp_path / "b.mp4", frames=portrait_frames(portrait, 12))
    assert first.watermark_id != second.watermark_id
    assert {e.watermark_id for e in registry.entries()} == {first.watermark_id, second.watermark_id}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda good: b"", "empty"),
        (lambda good: b"just some text, not a video\n" * 10, "not a video"),
        (lambda good: good[: len(good) // 2], "not a video Sitter can read"),
        (lambda good: b"\x00\x00\x00\x01moov" + (2**62).to_bytes(8, "big") + b"\x00" * 64, "no video stream"),
    ],
    ids=["zero-byte", "text", "truncated", "huge-header"],
)
def test_unreadable_files_are_a_clear_error(labeled: Path, tmp_path: Path, content, message: str) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content(labeled.read_bytes()))
    with pytest.raises(UnreadableMedia, match=message):
        verify(bad)


def test_the_cli_prints_the_report_and_exits_0_or_2(labeled: Path, tmp_path: Path, signer) -> None:
    env = {"SITTER_HOME": str(tmp_path / "verifier-home"), "SITTER_DB_URL": ""}
    result = CliRunner().invoke(cli, ["verify", str(labeled), "--trust-anchor", str(signer.trust_anchor),
                                      "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["verdict"] == "labeled" and report["c2pa"]["trusted"]
    assert report["consent"]["status"] == "unknown"
    assert not (tmp_path / "verifier-home").exists()  # a verifier's machine gets no studio database
    text = CliRunner().invoke(cli, ["verify", str(labeled)], env=env)
    assert text.exit_code == 0 and text.output.startswith("verdict     labeled")
    (tmp_path / "empty.mp4").write_bytes(b"")
    failed = CliRunner().invoke(cli, ["verify", str(tmp_path / "empty.mp4")], env=env)
    assert failed.exit_code == 2 and failed.output.strip() == "Error: video file is empty (0 bytes)"


def test_keys_show_names_the_signer_and_how_to_trust_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = CliRunner().invoke(cli, ["keys", "show", "--json"], env={"SITTER_HOME": str(home), "SITTER_DB_URL": ""})
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["trust_anchor"] == str(home / "keys" / "c2pa-dev" / "ca.pem")
    assert "development" in info["source"] and info["ledger_public_key"].startswith("-----BEGIN PUBLIC KEY")
    assert (home / "keys" / "c2pa-dev" / "signer.key").stat().st_mode & 0o777 == 0o600

