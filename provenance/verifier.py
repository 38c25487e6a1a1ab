"""verify: one report on any clip: is it synthetic, who made it, from what, under whose consent?

It reads both labels independently, the C2PA manifest in the file and the invisible watermark in
the pixels, checks that they agree, recovers the manifest from the registry when the file's was
stripped, asks the consent ledger (when there is one) what the record's status is today, and gives
one verdict:

- `labeled`: a valid manifest and a watermark that matches it;
- `labeled-stripped`: no manifest in the file, but the watermark names a registered output;
- `watermark-only`: the watermark is there, but no registry here knows it;
- `tampered`: a manifest that fails validation, or a watermark that contradicts it;
- `unlabeled`: neither label found.

A verifier needs no consent database or registry: without them those parts say "unknown".

The report also says what the clip's sound is: none, or what its manifest declares (synthesized speech,
a recording or a driving video's sound carried through, the hash of the text or file it came from).

Any video FFmpeg decodes can be examined: MP4, MOV, WebM, Matroska, AVI, an animated GIF. The watermark is read
from the decoded frames in every one; the manifest only where C2PA has a place for it (MP4, MOV, AVI, GIF). A WebM
or Matroska copy reports its manifest as not carried by its format, and its verdict follows the watermark.

`verify` raises only when the clip cannot be examined at all (UnreadableMedia).
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from consent import record_status
from provenance.errors import ManifestInvalid
from provenance.manifest import (
    ConsentClaim,
    ManifestReport,
    SoundKind,
    SoundSource,
    ValidationState,
    read_manifest,
)
from provenance.registry import Entry, Registry
from provenance.video import VideoInfo, probe
from provenance.watermark import WatermarkReading, format_watermark_id, read_watermark
from sitter.files import file_sha256

UNTRUSTED = "signingCredential.untrusted"  # a valid signature from a signer the verifier was not told to trust
UNREADABLE = "org.sitter.manifest.unreadable"  # a manifest store too damaged for c2pa to parse


class Verdict(StrEnum):
    LABELED = "labeled"
    LABELED_STRIPPED = "labeled-stripped"
    WATERMARK_ONLY = "watermark-only"
    TAMPERED = "tampered"
    UNLABELED = "unlabeled"


@dataclass(frozen=True)
class FileFacts:
    """The clip as a file: what a verifier quotes to say which file it examined, and what its container says."""

    sha256: str
    bytes: int
    video: VideoInfo

    def to_dict(self) -> dict:
        return {"sha256": self.sha256, "bytes": self.bytes, **asdict(self.video)}


@dataclass(frozen=True)
class Binding:
    """Whether the two labels agree: the watermark id the manifest names, and the one the pixels carry."""

    manifest_watermark_id: str | None  # of the cited manifest: the file's own, else the registry's copy
    watermark_id: str | None  # hex, as decoded; None when no watermark was found
    match: bool

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RegistryLookup:
    """What the studio's registry knows of the watermark: the output it names, and its manifest when the file's
    own was stripped (validated against this file)."""

    available: bool  # False: no registry here to ask
    entry: Entry | None = None
    manifest: ManifestReport | None = None  # the recovered one

    @property
    def found(self) -> bool:
        return self.entry is not None

    def to_dict(self) -> dict:
        return {"available": self.available, "found": self.found,
                "entry": self.entry.to_dict() if self.entry else None,
                "manifest": self.manifest.to_dict() if self.manifest else None}


@dataclass(frozen=True)
class ConsentStatus:
    """The consent the cited manifest names, and that record's status today (consent.record_status)."""

    record_id: str | None
    record_hash: str | None
    status: str  # active / revoked / expired / erased / ledger does not verify / mismatch / unknown

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SoundReport:
    """Whether the file has a sound track, and what the cited manifest declares it to be."""

    present: bool
    declared: SoundSource | None  # None: no manifest, or one that declares no sound

    def to_dict(self) -> dict:
        return {"present": self.present, "declared": self.declared.to_dict() if self.declared else None}


@dataclass(frozen=True)
class VerifyReport:
    """Everything verify found, built once and shown by the CLI (`--json`) and the studio alike."""

    verdict: Verdict
    summary: str  # one plain sentence for people
    file: FileFacts
    manifest: ManifestReport  # as found in the file (present=False when stripped)
    watermark: WatermarkReading
    binding: Binding
    registry: RegistryLookup
    consent: ConsentStatus
    sound: SoundReport

    @property
    def manifest_note(self) -> str:
        """Where the file's manifest stands, in a few words: why there is none, when there is none."""
        return _manifest_note(self.manifest, self.file.video.container)

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict.value,
            "summary": self.summary,
            "file": self.file.to_dict(),
            "c2pa": self.manifest.to_dict(),
            "watermark": self.watermark.to_dict(),
            "binding": self.binding.to_dict(),
            "registry": self.registry.to_dict(),
            "consent": self.consent.to_dict(),
            "sound": self.sound.to_dict(),
        }


def verify(
    path: Path | str,
    *,
    trust_anchors: Sequence[Path | str] = (),
    registry: Registry | None = None,
    ledger: object | None = None,
    now: datetime | None = None,
) -> VerifyReport:
    """Examine the clip at `path`; see the module docstring for the verdicts.

    `ledger` is the studio's consent.Ledger; verify only asks it the cited record's status (consent.record_status).
    """
    path = Path(path)
    info = probe(path)  # raises UnreadableMedia for what is not a video
    manifest = _read_embedded(path, trust_anchors)
    watermark = read_watermark(path)
    wm_hex = format_watermark_id(watermark.wm_id) if watermark.found else None
    entry = registry.find(wm_hex) if registry is not None and wm_hex else None
    recovered = (read_manifest(path, trust_anchors=trust_anchors, manifest=entry.manifest)
                 if entry is not None and not manifest.present else None)
    cited = manifest if manifest.present else recovered
    binding = Binding(
        manifest_watermark_id=cited.watermark_id if cited else None,
        watermark_id=wm_hex,
        match=bool(cited and wm_hex and cited.watermark_id == wm_hex),
    )
    verdict = _verdict(manifest, watermark, binding, entry is not None)
    consent = _consent(cited, ledger, now or datetime.now(UTC))
    return VerifyReport(
        verdict=verdict,
        summary=_summary(verdict, cited, consent, manifest, info.container),
        file=FileFacts(sha256=file_sha256(path), bytes=path.stat().st_size, video=info),
        manifest=manifest,
        watermark=watermark,
        binding=binding,
        registry=RegistryLookup(available=registry is not None, entry=entry, manifest=recovered),
        consent=consent,
        sound=SoundReport(present=info.has_audio, declared=cited.sound if cited else None),
    )


# helpers


def _read_embedded(path: Path, trust_anchors: Sequence[Path | str]) -> ManifestReport:
    """The file's own manifest; one too damaged to parse is reported as failing, not raised."""
    try:
        return read_manifest(path, trust_anchors=trust_anchors)
    except ManifestInvalid:
        return ManifestReport(present=True, embedded=True, validation_state=ValidationState.INVALID,
                              failures=(UNREADABLE,))


def _verdict(manifest: ManifestReport, watermark: WatermarkReading, binding: Binding, registered: bool) -> Verdict:
    if manifest.present:
        broken = [code for code in manifest.failures if code != UNTRUSTED]
        if manifest.validation_state is ValidationState.INVALID or broken:
            return Verdict.TAMPERED
        if watermark.found and not binding.match:
            return Verdict.TAMPERED
        return Verdict.LABELED
    if not watermark.found:
        return Verdict.UNLABELED
    return Verdict.LABELED_STRIPPED if registered else Verdict.WATERMARK_ONLY


def _consent(cited: ManifestReport | None, ledger: object | None, now: datetime) -> ConsentStatus:
    """The consent the cited manifest names, and its status today as the ledger (when there is one) tells it."""
    claim = (cited.consent if cited else None) or ConsentClaim()
    return ConsentStatus(claim.record_id, claim.record_hash,
                         record_status(ledger, claim.record_id, claim.record_hash, now))


def _manifest_note(manifest: ManifestReport, container: str) -> str:
    if manifest.present:
        return "in the file"
    if not manifest.format_carries_c2pa:
        return f"none: {container} files cannot carry a C2PA manifest"
    if not manifest.container_parsed:
        return f"none read: C2PA cannot parse this {container} file (damaged or cut off)"
    return "none in the file (never signed, or stripped)"


def _summary(verdict: Verdict, cited: ManifestReport | None, consent: ConsentStatus, manifest: ManifestReport,
             container: str) -> str:
    signer = f", signed by {cited.signer}" if cited and cited.signer else ""
    trust = "" if not cited or cited.trusted else " (signer not in your trust list)"
    record = f", under consent record {consent.record_id} ({consent.status})" if consent.record_id else ""
    lost = ("its metadata was stripped" if manifest.format_carries_c2pa and manifest.container_parsed
            else f"its {container} file holds no manifest")
    sentence = {
        Verdict.LABELED: f"This video was made by AI with Sitter{signer}{trust}{record}.",
        Verdict.LABELED_STRIPPED: (f"This video was made by AI with Sitter; {lost}, and the "
                                   f"watermark led to the original manifest{signer}{trust}{record}."),
        Verdict.WATERMARK_ONLY: ("This video carries Sitter's AI watermark, but no manifest: it was made by AI "
                                 "with Sitter, and this registry does not know which output it is."),
        Verdict.TAMPERED: ("This video's labels do not hold: its manifest fails validation or contradicts its "
                           "watermark. It was altered after it was signed."),
        Verdict.UNLABELED: "No Sitter label found: no C2PA manifest and no Sitter watermark.",
    }[verdict]
    sound = _SOUNDS.get(cited.sound.kind) if cited and cited.sound and verdict is not Verdict.TAMPERED else None
    return f"{sentence} {sound}" if sound else sentence


_SOUNDS = {  # what a summary adds for each kind of sound a manifest declares
    SoundKind.SYNTHESIZED: "Its voice is synthesized speech, made by Sitter from a text.",
    SoundKind.RECORDING: "Its voice is a recording, carried through; the face was animated to match it.",
    SoundKind.DRIVER: "Its sound is the driving performance's own, carried through.",
}

