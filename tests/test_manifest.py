"""C2PA manifests: signed into real MP4s, trusted only with the studio's CA, broken by any tampering."""

import json
import struct
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest
from PIL import Image

from consent import Ledger, authorize
from provenance.errors import BadTrustAnchors, ManifestInvalid, SigningFailed, UnreadableMedia
from provenance.keys import StudioSigner, callback_signer
from provenance.manifest import (
    CONSENT,
    TRAINED_ALGORITHMIC_MEDIA,
    ConsentClaim,
    Ingredient,
    ManifestContent,
    SoundKind,
    SoundSource,
    declared_source_type,
    read_manifest,
    sign_video,
)
from provenance.registry import Registry
from provenance.video import write_mp4
from sitter.sources import SourceImage


@pytest.fixture
def signed(tmp_path: Path, clip: Path, signer: StudioSigner) -> tuple[Path, bytes]:
    """The clip signed with the development CA, and the manifest store that sign_video returned."""
    path = tmp_path / "signed.mp4"
    return path, sign_video(clip, path, _content(), signer)


def test_a_signed_video_is_trusted_with_the_studio_ca_and_only_valid_without(signed, signer) -> None:
    path, _ = signed
    with_ca = read_manifest(path, trust_anchors=[signer.trust_anchor])
    assert (with_ca.present, with_ca.embedded, with_ca.validation_state) == (True, True, "Trusted")
    assert with_ca.trusted and with_ca.failures == ()
    without = read_manifest(path)
    assert (without.validation_state, without.trusted) == ("Valid", False)
    assert without.failures == ("signingCredential.untrusted",)


def test_the_manifest_says_how_the_video_was_made(signed, signer) -> None:
    report = read_manifest(signed[0], trust_anchors=[signer.trust_anchor])
    assert report.digital_source_type == TRAINED_ALGORITHMIC_MEDIA
    assert report.engine == "warp 0.1.0"
    assert report.claim_generator.startswith("Sitter ")
    assert (report.signer, report.issuer) == ("Sitter development signer", "Sitter studio")
    assert report.ingredients == (Ingredient(title="source-1", relationship="inputTo", sha256="ab" * 32),
                                  Ingredient(title="source-2", relationship="inputTo", sha256="cd" * 32))
    assert report.consent == ConsentClaim(record_id="0123456789abcdef", record_hash="c" * 64)
    assert (report.watermark_id, report.watermark_alg) == ("9f3a61c2", "org.sitter.test.1")
    store = report.to_dict()["store"]
    active = store["manifests"][store["active_manifest"]]
    labels = [a["label"] for a in active["assertions"]]
    assert {"c2pa.actions.v2", "c2pa.soft-binding", CONSENT, "cawg.training-mining"} <= set(labels)
    mining = next(a["data"]["entries"] for a in active["assertions"] if a["label"] == "cawg.training-mining")
    assert {entry["use"] for entry in mining.values()} == {"notAllowed"}
    binding = next(a["data"] for a in active["assertions"] if a["label"] == "c2pa.soft-binding")
    assert binding["blocks"][0]["scope"]["timespan"] == {"start": 0, "end": 1000}  # the whole clip


def test_the_manifest_is_small_and_exactly_what_was_embedded(signed) -> None:
    path, store = signed
    assert 1_000 < len(store) < 8_000  # no thumbnail: with one it would be ~100 KB
    assert store in path.read_bytes()


def test_an_unsigned_video_has_no_manifest_which_is_not_an_error(clip: Path) -> None:
    report = read_manifest(clip)
    assert not report.present and report.validation_state is None and report.watermark_id is None


def test_a_sound_track_is_declared_with_its_source_type_and_the_hash_of_what_it_came_from(
    tmp_path: Path, signed, signer
) -> None:
    unsigned, path = tmp_path / "unsigned.mp4", tmp_path / "signed-with-sound.mp4"
    quiet = SimpleNamespace(samples=np.zeros((1, 8000), np.float32), rate=8000)  # any Sound will do
    write_mp4([np.zeros((64, 64, 3), np.uint8)] * 12, unsigned, fps=12, sound=quiet)
    sound = SoundSource(SoundKind.DRIVER, "ef" * 32, declared_source_type(signed[0]))
    sign_video(unsigned, path, _content(sound=sound), signer)
    report = read_manifest(path, trust_anchors=[signer.trust_anchor])
    assert report.trusted and len(report.ingredients) == 2  # the source images; the sound is reported apart
    assert report.sound == SoundSource(kind="driver-audio", sha256="ef" * 32,
                                       digital_source_type=TRAINED_ALGORITHMIC_MEDIA, software_agent=None)
    assert declared_source_type(unsigned) is None and read_manifest(signed[0]).sound is None


def test_changing_the_frame_data_breaks_the_hash_binding(tmp_path: Path, signed, signer) -> None:
    data = bytearray(signed[0].read_bytes())
    offset, size = _box(data, b"mdat")
    for i in range(offset + size // 2, offset + size // 2 + 16):
        data[i] ^= 0xFF
    (tmp_path / "edited.mp4").write_bytes(data)
    report = read_manifest(tmp_path / "edited.mp4", trust_anchors=[signer.trust_anchor])
    assert (report.present, report.validation_state) == (True, "Invalid")
    assert "assertion.bmffHash.mismatch" in report.failures


def test_changing_the_manifest_fails_validation(tmp_path: Path, signed, signer) -> None:
    data = bytearray(signed[0].read_bytes())
    at = data.index(b"0123456789abcdef")  # the consent record id, inside the consent assertion
    data[at] = ord("f")
    (tmp_path / "edited.mp4").write_bytes(data)
    report = read_manifest(tmp_path / "edited.mp4", trust_anchors=[signer.trust_anchor])
    assert report.validation_state == "Invalid" and not report.trusted
    assert "assertion.hashedURI.mismatch" in report.failures


def test_a_manifest_too_damaged_to_parse_is_manifest_invalid(tmp_path: Path, signed) -> None:
    data = bytearray(signed[0].read_bytes())
    at = data.index(b"jumb")
    data[at:at + 4] = b"xxxx"
    (tmp_path / "broken.mp4").write_bytes(data)
    with pytest.raises(ManifestInvalid, match="present but cannot be read"):
        read_manifest(tmp_path / "broken.mp4")


def test_a_stripped_clip_is_traced_through_the_registry(tmp_path: Path, signed, signer) -> None:
    path, store = signed
    with Registry(f"sqlite:///{tmp_path / 'sitter.db'}") as registry:
        registry.register(watermark_id="9f3a61c2", manifest=store, output_id="0123abcd",
                          record_id="0123456789abcdef", engine="warp 0.1.0", sha256="e" * 64)
        stripped = tmp_path / "reuploaded.mp4"
        _remux(path, stripped)
        assert not read_manifest(stripped).present  # the platform dropped the manifest
        entry = registry.get("9f3a61c2")  # the id the watermark decoder would report
    report = read_manifest(stripped, trust_anchors=[signer.trust_anchor], manifest=entry.manifest)
    assert (report.present, report.embedded) == (True, False)
    assert report.consent == ConsentClaim(record_id="0123456789abcdef", record_hash="c" * 64)
    # the signature still verifies; only the hash of the re-muxed file differs from what was signed
    assert report.validation_state == "Invalid"
    assert report.failures == ("assertion.bmffHash.mismatch",)


def test_a_detached_store_verifies_a_clip_whose_manifest_box_was_blanked(tmp_path: Path, signed, signer) -> None:
    path, store = signed
    data = bytearray(path.read_bytes())
    offset, size = _box(data, b"uuid")
    data[offset + 4:offset + size] = b"free" + bytes(size - 8)  # same layout, manifest gone
    (tmp_path / "blanked.mp4").write_bytes(data)
    assert not read_manifest(tmp_path / "blanked.mp4").present
    report = read_manifest(tmp_path / "blanked.mp4", trust_anchors=[signer.trust_anchor], manifest=store)
    assert (report.validation_state, report.embedded, report.failures) == ("Trusted", False, ())


def test_no_personal_data_reaches_the_manifest(tmp_path: Path, ledger: Ledger, add, clip: Path, signer) -> None:
    portrait = tmp_path / "adalind_testsubject_portrait.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (48, 40, 3), dtype=np.uint8)).save(portrait)
    add([portrait], name="Adalind Testsubject", grantor="Gracewell Grantperson",
        contact="adalind@example.org")
    grant = authorize(ledger, [portrait], "marketing", "Olgaria Operator")
    content = _content(sources=grant.sources, record_id=grant.record_id, record_hash=grant.record_hash)
    store = sign_video(clip, tmp_path / "signed.mp4", content, signer)
    report = read_manifest(tmp_path / "signed.mp4")
    text = (report.store_json + store.decode("latin-1")).lower()
    for personal in ("adalind", "testsubject", "gracewell", "grantperson", "example.org", "portrait", "olgaria"):
        assert personal not in text
    assert report.consent == ConsentClaim(record_id=grant.record_id, record_hash=grant.record_hash)
    store_json = json.loads(report.store_json)
    active = store_json["manifests"][store_json["active_manifest"]]
    consent = next(a["data"] for a in active["assertions"] if a["label"] == CONSENT)
    assert set(consent) == {"record_id", "record_hash"}
    assert [i.sha256 for i in report.ingredients] == [s.sha256 for s in grant.sources]


def test_a_failed_signature_leaves_no_output(tmp_path: Path, clip: Path, signer) -> None:
    broken = callback_signer(signer.chain_pem, lambda data: b"")  # a KMS that answers nothing
    with pytest.raises(SigningFailed, match="could not sign"):
        sign_video(clip, tmp_path / "signed.mp4", _content(), broken)
    assert not (tmp_path / "signed.mp4").exists()


def test_trust_anchors_must_be_a_pem_file(tmp_path: Path, signed) -> None:
    (tmp_path / "anchors.pem").write_text("not a certificate")
    with pytest.raises(BadTrustAnchors, match="not PEM certificates"):
        read_manifest(signed[0], trust_anchors=[tmp_path / "anchors.pem"])
    with pytest.raises(BadTrustAnchors, match="cannot read a trust anchor"):
        read_manifest(signed[0], trust_anchors=[tmp_path / "missing.pem"])


def test_what_is_not_a_video_is_unreadable_media(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("not a video at all")
    with pytest.raises(UnreadableMedia):
        read_manifest(tmp_path / "notes.mp4")
    with pytest.raises(UnreadableMedia, match="not found"):
        read_manifest(tmp_path / "missing.mp4")


# helpers


def _content(**overrides) -> ManifestContent:
    fields = dict(title="sitter-0123abcd.mp4", sources=(SourceImage("ab" * 32, 48, 40), SourceImage("cd" * 32, 48, 40)),
                  record_id="0123456789abcdef", record_hash="c" * 64, watermark_id="9f3a61c2",
                  watermark_alg="org.sitter.test.1", engine="warp", engine_version="0.1.0")
    return ManifestContent(**{**fields, **overrides})


def _box(data: bytes, kind: bytes) -> tuple[int, int]:
    """Offset and size of the first top-level MP4 box of this type."""
    offset = 0
    while offset < len(data):
        size, found = struct.unpack(">I4s", data[offset:offset + 8])
        if found == kind:
            return offset, size
        offset += size
    raise AssertionError(f"no top-level {kind!r} box")


def _remux(source: Path, dest: Path) -> None:
    """Copy the video into a new MP4 without re-encoding, as an upload pipeline that drops metadata does."""
    with av.open(str(source)) as inp, av.open(str(dest), "w", format="mp4") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
