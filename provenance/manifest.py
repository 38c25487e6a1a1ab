"""C2PA manifests for Sitter's outputs: sign one into an MP4, read one back. The only module that imports c2pa.

Every output's manifest says, in C2PA's own vocabulary, that the video was made by a trained model
(`c2pa.created` with digitalSourceType trainedAlgorithmicMedia), from which source images (`inputTo`
ingredients identified by the SHA-256 of their decoded pixels), that it carries an invisible watermark
(`c2pa.watermarked` plus the `c2pa.soft-binding` assertion naming the watermark id, which C2PA requires
for that action), under which consent (`org.sitter.consent`: record id and record hash, never a name),
and that it may not be used for AI training or data mining (`cawg.training-mining`).

An output with sound says what the sound is: one more `inputTo` ingredient, the text it was synthesized
from or the recording or driving video it was carried from, identified by its SHA-256 only (a text may hold
personal data, and so may a file name), and a `c2pa.edited` action on the MP4's sound track (an
"identified" region naming track 2) whose digitalSourceType is trainedAlgorithmicMedia for synthesized
speech, or what the original's own C2PA manifest declares for carried sound (none when it declares none).
The sound itself is inside the MP4, under the same hard binding (`c2pa.hash.bmff`) as the frames.

Nothing that could carry personal data goes in: ingredients are titled "source-1", "source-2", ...
and described by their pixel hash and size only. The source files themselves are never handed to
c2pa, so neither their file names nor their own metadata (XMP, EXIF, a camera's manifest naming the
photographer) can leak into an output, and neither can a thumbnail of the face: given an image file
as an ingredient, c2pa embeds its thumbnail (a 4 KB manifest becomes ~125 KB). Thumbnails are also
turned off in the settings, so no later change brings them back by default.

Example:

    signer = development_signer(data_dir / "keys")
    store = sign_video(tmp_mp4, signed_mp4, ManifestContent(...), signer)   # store: the manifest bytes
    report = read_manifest(signed_mp4, trust_anchors=[signer.trust_anchor])  # report.trusted is True
    report = read_manifest(stripped_mp4, manifest=store)                   # a stripped clip, its manifest
"""

import io
import json
import logging
import re
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path
from typing import BinaryIO

import c2pa
from cryptography import x509

from provenance.errors import BadTrustAnchors, ManifestInvalid, SigningFailed, UnreadableMedia
from provenance.keys import StudioSigner
from provenance.video import probe
from sitter.sources import SourceImage

log = logging.getLogger(__name__)

# manifest labels and vocabulary, in one place
ACTIONS = "c2pa.actions"
CREATED = "c2pa.created"
EDITED = "c2pa.edited"
WATERMARKED = "c2pa.watermarked"
SOFT_BINDING = "c2pa.soft-binding"
TRAINING_MINING = "cawg.training-mining"
CONSENT = "org.sitter.consent"
PIXELS = "org.sitter.pixels"  # ingredient metadata: the pixel hash that consent records bind
SOUND = "org.sitter.sound"  # ingredient metadata: what the output's sound is, and the hash of what it came from
SOUND_TRACK_ID = "2"  # write_mp4 puts the sound in the MP4's second track, after the video
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
NOT_ALLOWED_USES = ("cawg.ai_generative_training", "cawg.ai_inference", "cawg.ai_training", "cawg.data_mining")
MP4 = "video/mp4"
UNPARSED_ASSET = "asset could not be parsed"  # c2pa's words when a format it reads is too damaged to parse

SIGN_SETTINGS = {
    "builder": {"thumbnail": {"enabled": False}},
    "verify": {"verify_after_sign": True, "remote_manifest_fetch": False},
}
READ_SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}  # a verifier stays offline


class SoundKind(StrEnum):
    """Where an output's sound came from."""

    SYNTHESIZED = "synthesized-speech"  # a text spoken by a speech synthesizer; the ingredient is the text
    RECORDING = "recording"  # a recorded voice, carried into the output
    DRIVER = "driver-audio"  # the driving video's own sound, carried into the output


@dataclass(frozen=True)
class SoundSource:
    """What an output's sound is, for its manifest (and as a manifest declares it): a hash, never the text or a
    file name."""

    kind: SoundKind | str  # read back from a newer Sitter's manifest, a kind this version does not know stays text
    sha256: str  # of the text (UTF-8, surrounding whitespace removed), or of the file the sound came from
    digital_source_type: str | None  # trainedAlgorithmicMedia when synthesized; the original's declared type, if any
    software_agent: str | None = None  # the synthesizer, e.g. "espeak-ng 1.51"

    def to_dict(self) -> dict:
        return {"kind": str(self.kind), "sha256": self.sha256, "digital_source_type": self.digital_source_type,
                "software_agent": self.software_agent}


@dataclass(frozen=True)
class ManifestContent:
    """What one output's manifest says; ids and hashes only.

    `title` is shown by every C2PA viewer: give it the output id ("sitter-3f9a….mp4"), never a
    user-typed caption or a subject's name.
    """

    title: str
    sources: tuple[SourceImage, ...]  # pixel fingerprints, in the order the engine used them
    record_id: str  # the consent record
    record_hash: str  # its grant row's hash in the ledger
    watermark_id: str  # hex, as the watermark decoder reports it
    watermark_alg: str
    engine: str
    engine_version: str
    sound: SoundSource | None = None  # None: a silent video


class ValidationState(StrEnum):
    """How a manifest store validates, in c2pa's words."""

    TRUSTED = "Trusted"  # signature good, and the signer chains to a given trust anchor
    VALID = "Valid"  # signature good, signer not trusted: `failures` then holds signingCredential.untrusted
    INVALID = "Invalid"  # something failed: see `failures`


@dataclass(frozen=True)
class Ingredient:
    """A source image as a manifest names it: its title ("source-1", ...) and the SHA-256 of its pixels."""

    title: str | None
    relationship: str | None  # inputTo, for Sitter's outputs
    sha256: str | None  # what consent records bind; None in a manifest Sitter did not write

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ConsentClaim:
    """The consent a manifest cites: a record id and its grant row's hash in the ledger, never a name."""

    record_id: str | None = None
    record_hash: str | None = None

    def to_dict(self) -> dict:
        return {"record_hash": self.record_hash, "record_id": self.record_id}  # as c2pa reports them: sorted


@dataclass(frozen=True)
class ManifestReport:
    """What a file's manifest store says and whether it validates. `present=False` means no manifest.

    The fields after `validation_state` and `failures` are read from the active manifest as it stands;
    when the state is INVALID they may have been tampered with.
    """

    present: bool
    embedded: bool = False  # False when the store came from elsewhere (the registry's copy)
    validation_state: ValidationState | None = None
    failures: tuple[str, ...] = ()  # validation failure codes, e.g. assertion.bmffHash.mismatch
    signer: str | None = None  # the signing certificate's common name
    issuer: str | None = None  # its issuer's organization
    claim_generator: str | None = None
    engine: str | None = None
    digital_source_type: str | None = None
    ingredients: tuple[Ingredient, ...] = ()  # the source images; the sound's ingredient is in `sound`
    sound: SoundSource | None = None  # None: no sound declared
    consent: ConsentClaim | None = None
    watermark_id: str | None = None
    watermark_alg: str | None = None
    store_json: str = field(default="", repr=False)  # the whole manifest store, as c2pa reports it
    format_carries_c2pa: bool = True  # False: a video format C2PA has no place in (WebM, Matroska)
    container_parsed: bool = True  # False: C2PA could not parse the file's structure (a cut-off AVI): none read

    @property
    def trusted(self) -> bool:
        return self.validation_state is ValidationState.TRUSTED

    def to_dict(self) -> dict:
        data = {**asdict(self),
                "validation_state": str(self.validation_state) if self.validation_state else None,
                "ingredients": [i.to_dict() for i in self.ingredients],
                "sound": self.sound.to_dict() if self.sound else None,
                "consent": self.consent.to_dict() if self.consent else None,
                "trusted": self.trusted}
        data["store"] = json.loads(data.pop("store_json")) if self.store_json else None
        return data


def sign_video(unsigned: Path | str, dest: Path | str | BinaryIO, content: ManifestContent,
               signer: StudioSigner) -> bytes:
    """Write `unsigned` (an MP4) to `dest` with `content` signed into it; return the manifest store bytes.

    `dest` is a file, or a writable, seekable binary stream. File to file, c2pa streams and hashes the
    video from disk, so the MP4 is never held in memory. Into a stream (an io.BytesIO), the signed video
    is held in memory, about 8 MB a minute at 512x512: the render path does that so that no signed video
    exists anywhere until the consent re-check has passed (provenance/staging.py).
    The returned bytes are exactly the store embedded in `dest`; keep them (the registry does) to
    show and validate the manifest of a copy whose metadata was stripped.

    Raises SigningFailed (and leaves no file `dest` behind), or UnreadableMedia if `unsigned` is not a video.
    """
    to_file = isinstance(dest, (str, Path))
    if to_file:
        assert Path(unsigned).resolve() != Path(dest).resolve(), f"signing {unsigned} onto itself would truncate it"
    name = Path(dest).name if to_file else "the output"
    definition = _definition(content, _duration_ms(unsigned))
    try:
        with (
            _c2pa_signer(signer) as c2pa_signer,
            c2pa.Context.from_dict(SIGN_SETTINGS) as context,
            c2pa.Builder(definition, context=context) as builder,
            open(unsigned, "rb") as source,
            open(dest, "w+b") if to_file else nullcontext(dest) as target,
        ):
            store = builder.sign(c2pa_signer, MP4, source, target)
    except (c2pa.C2paError, OSError) as err:
        if to_file:
            Path(dest).unlink(missing_ok=True)
        raise SigningFailed(f"could not sign the C2PA manifest into {name}: {err}") from err
    log.info("signed %s: %d-byte manifest, watermark %s", name, len(store), content.watermark_id)
    return store


def read_manifest(path: Path | str, *, trust_anchors: Sequence[Path | str] = (),
                  manifest: bytes | None = None) -> ManifestReport:
    """Read and validate the manifest store of the video at `path`.

    `trust_anchors` are PEM files of root certificates to trust (the development CA's ca.pem, say).
    `manifest` is a detached store (from `sign_video` or the registry) to validate against the file
    instead of whatever the file carries: how a stripped clip's manifest is recovered. A re-encoded
    clip then fails the hash binding (assertion.bmffHash.mismatch) while its signature still verifies.

    A video in a format C2PA has no place in (WebM, Matroska, FLV, MPEG-TS: c2pa reads MP4, MOV, M4V, AVI and GIF)
    carries no manifest: it reads as present=False, format_carries_c2pa=False, and a detached store is validated
    against no asset at all, so its signature is checked and its hash binding fails, as for a re-encoded MP4. So
    does a file in a format C2PA reads whose structure it cannot parse though FFmpeg still decodes it (an AVI cut
    off mid-download, say): present=False, container_parsed=False, since no manifest can be read out of it.

    Returns ManifestReport(present=False) when there is no manifest: absence is data, not an error.
    Raises UnreadableMedia when the file is missing or not a video, ManifestInvalid when a manifest is there
    but too damaged to read at all, BadTrustAnchors when a trust anchor is not a readable PEM file.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableMedia("video not found")
    context = _read_context([Path(p) for p in trust_anchors])
    carries = parsed = True
    try:
        with context, open(path, "rb") as stream:
            try:
                reader = c2pa.Reader.try_create(None, stream, manifest, context)  # None: detect the format
            except (c2pa.C2paError.NotSupported, c2pa.C2paError.Other) as err:
                damaged = isinstance(err, c2pa.C2paError.Other)  # a format c2pa reads, too damaged to parse
                if damaged and UNPARSED_ASSET not in str(err):
                    raise
                probe(path)  # raises UnreadableMedia for what is not a video at all
                carries, parsed = damaged, not damaged
                reader = None if manifest is None else c2pa.Reader.try_create(MP4, io.BytesIO(), manifest, context)
            if reader is None:
                return ManifestReport(present=False, format_carries_c2pa=carries, container_parsed=parsed)
            with reader:
                store_json, embedded = reader.json(), reader.is_embedded()
    except (c2pa.C2paError.Io, c2pa.C2paError.NotSupported, c2pa.C2paError.FileNotFound, OSError) as err:
        raise UnreadableMedia(f"not a file C2PA can read ({err})") from err
    except c2pa.C2paError as err:
        raise ManifestInvalid(f"a C2PA manifest is present but cannot be read ({err})") from err
    try:
        return _report(json.loads(store_json), store_json, embedded, carries, parsed)
    except (AttributeError, TypeError, KeyError, IndexError) as err:  # a store shaped unlike the spec
        raise ManifestInvalid(f"the C2PA manifest store is malformed ({err!r})") from err


def declared_source_type(path: Path | str) -> str | None:
    """The digitalSourceType that a media file's own C2PA manifest declares for it, when the manifest
    validates (trusted or not); None when it has none, fails, or is in a format C2PA cannot read.

    What sound carried from that file into an output was: a recording made by a camera says digitalCapture,
    a Sitter output says trainedAlgorithmicMedia, and most files say nothing.
    """
    try:
        report = read_manifest(path)
    except (UnreadableMedia, ManifestInvalid):
        return None
    return (report.digital_source_type
            if report.validation_state in (ValidationState.VALID, ValidationState.TRUSTED) else None)


# helpers: building


def _definition(content: ManifestContent, duration_ms: int) -> dict:
    """The manifest definition c2pa's Builder takes, from `content`."""
    sources = [
        {"title": f"source-{i}", "relationship": "inputTo",
         "metadata": {PIXELS: {"sha256": s.sha256, "width": s.width, "height": s.height}}}
        for i, s in enumerate(content.sources, 1)
    ]
    sound = [] if content.sound is None else [_sound_ingredient(content.sound)]
    return {
        "title": content.title,
        "claim_generator_info": [{"name": "Sitter", "version": version("sitter")}],
        "ingredients": sources + sound,
        "assertions": [
            {"label": ACTIONS, "data": {"actions": [
                {"action": CREATED, "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                 "softwareAgent": {"name": content.engine, "version": content.engine_version}},
                {"action": WATERMARKED},
                *([] if content.sound is None else [_sound_action(content.sound)]),
            ]}},
            {"label": SOFT_BINDING, "data": {
                "alg": content.watermark_alg,
                "blocks": [{"scope": {"timespan": {"start": 0, "end": duration_ms}},
                            "value": content.watermark_id}],
            }},
            {"label": CONSENT, "data": {"record_id": content.record_id, "record_hash": content.record_hash}},
            {"label": TRAINING_MINING, "data": {"entries": {use: {"use": "notAllowed"}
                                                            for use in NOT_ALLOWED_USES}}},
        ],
    }


_SOUND_LABEL = "sound"  # how the sound's action names its ingredient before signing (c2pa's ingredientIds)
_SOUND_TITLES = {SoundKind.SYNTHESIZED: "speech-text", SoundKind.RECORDING: "voice-recording",
                 SoundKind.DRIVER: "driving-video"}
_SOUND_DESCRIPTIONS = {
    SoundKind.SYNTHESIZED: "sound track: speech synthesized from a text (the ingredient is the text's SHA-256)",
    SoundKind.RECORDING: "sound track: a recorded voice, carried through",
    SoundKind.DRIVER: "sound track: the driving video's own sound, carried through",
}


def _sound_ingredient(sound: SoundSource) -> dict:
    ingredient = {"title": _SOUND_TITLES[sound.kind], "relationship": "inputTo", "label": _SOUND_LABEL,
                  "metadata": {SOUND: {"kind": sound.kind.value, "sha256": sound.sha256}}}
    return {**ingredient, "format": "text/plain"} if sound.kind is SoundKind.SYNTHESIZED else ingredient


def _sound_action(sound: SoundSource) -> dict:
    """A c2pa.edited action on the sound track (region: the identified track), citing the sound's ingredient."""
    action = {
        "action": EDITED,
        "description": _SOUND_DESCRIPTIONS[sound.kind],
        "parameters": {"ingredientIds": [_SOUND_LABEL]},
        "changes": [{"region": [{"type": "identified", "item": {"identifier": "track_id", "value": SOUND_TRACK_ID}}],
                     "description": "the sound track"}],
    }
    if sound.digital_source_type:
        action["digitalSourceType"] = sound.digital_source_type
    if sound.software_agent:
        action["softwareAgent"] = {"name": sound.software_agent}
    return action


def _duration_ms(path: Path | str) -> int:
    """How long the watermark runs (the whole clip), for the soft binding's timespan."""
    info = probe(path)
    seconds = info.duration or (info.frames / info.fps if info.fps else 0.0)
    return round(seconds * 1000)


def _c2pa_signer(signer: StudioSigner) -> c2pa.Signer:
    alg = c2pa.C2paSigningAlg[signer.algorithm]
    if signer.sign is not None:
        return c2pa.Signer.from_callback(signer.sign, alg, signer.chain_pem.decode(), signer.tsa_url)
    info = c2pa.C2paSignerInfo(alg, signer.chain_pem, signer.private_key_pem, signer.tsa_url)
    return c2pa.Signer.from_info(info)


# helpers: reading


def _read_context(trust_anchors: list[Path]) -> c2pa.Context:
    if not trust_anchors:
        return c2pa.Context.from_dict(READ_SETTINGS)
    try:
        pem = "\n".join(path.read_text() for path in trust_anchors)
    except (OSError, UnicodeDecodeError) as err:
        raise BadTrustAnchors(f"cannot read a trust anchor file ({err.__class__.__name__})") from None
    try:
        for path in trust_anchors:  # c2pa takes any text and ignores what it can't parse: a typo would trust nothing
            x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError:
        raise BadTrustAnchors("a trust anchor file is not PEM certificates") from None
    try:
        return c2pa.Context.from_dict({**READ_SETTINGS, "trust": {"user_anchors": pem}})
    except c2pa.C2paError as err:
        raise BadTrustAnchors("a trust anchor file is not PEM certificates") from err


def _report(store: dict, store_json: str, embedded: bool, carries: bool, parsed: bool) -> ManifestReport:
    """Pick out of a manifest store what a verifier reports; fields Sitter did not write stay None."""
    active = store.get("manifests", {}).get(store.get("active_manifest"), {})
    results = store.get("validation_results", {}).get("activeManifest", {})
    actions = _assertion(active, ACTIONS) or {}
    created = next((a for a in actions.get("actions", []) if a.get("action") == CREATED), {})
    blocks = (_assertion(active, SOFT_BINDING) or {}).get("blocks") or [{}]
    signature = active.get("signature_info", {})
    consent = _assertion(active, CONSENT)
    state = store.get("validation_state")
    return ManifestReport(
        present=True,
        embedded=embedded,
        validation_state=ValidationState(state) if state else None,
        failures=tuple(f["code"] for f in results.get("failure", [])),
        signer=signature.get("common_name"),
        issuer=signature.get("issuer"),
        claim_generator=_agent((active.get("claim_generator_info") or [None])[0]),
        engine=_agent(created.get("softwareAgent")),
        digital_source_type=created.get("digitalSourceType"),
        ingredients=tuple(
            Ingredient(title=i.get("title"), relationship=i.get("relationship"),
                       sha256=(i.get("metadata") or {}).get(PIXELS, {}).get("sha256"))
            for i in active.get("ingredients", []) if SOUND not in (i.get("metadata") or {})
        ),
        sound=_sound(active, actions),
        consent=None if consent is None else ConsentClaim(record_id=consent.get("record_id"),
                                                          record_hash=consent.get("record_hash")),
        watermark_id=blocks[0].get("value"),
        watermark_alg=(_assertion(active, SOFT_BINDING) or {}).get("alg"),
        store_json=store_json,
        format_carries_c2pa=carries,
        container_parsed=parsed,
    )


def _sound(active: dict, actions: dict) -> SoundSource | None:
    """The sound a Sitter manifest declares: its ingredient's metadata and the action that cites it."""
    ingredient = next((i for i in active.get("ingredients", []) if SOUND in (i.get("metadata") or {})), None)
    if ingredient is None:
        return None
    cited = f"/{ingredient.get('label')}"
    action = next((a for a in actions.get("actions", []) if any(
        str(ref.get("url", "")).endswith(cited) for ref in (a.get("parameters") or {}).get("ingredients", []))), {})
    metadata = ingredient["metadata"][SOUND]
    return SoundSource(kind=_sound_kind(metadata.get("kind")), sha256=metadata.get("sha256"),
                       digital_source_type=action.get("digitalSourceType"),
                       software_agent=_agent(action.get("softwareAgent")))


def _sound_kind(text: str) -> SoundKind | str:
    """A declared sound's kind; one a newer Sitter added is still reported, as its text."""
    try:
        return SoundKind(text)
    except ValueError:
        return text


def _assertion(manifest: dict, label: str) -> dict | None:
    """The data of the first assertion with `label`, whatever its version (.v2) or instance (__1) suffix."""
    pattern = re.compile(rf"{re.escape(label)}(\.v\d+)?(__\d+)?")
    return next((a.get("data") for a in manifest.get("assertions", []) if pattern.fullmatch(a.get("label", ""))),
                None)


def _agent(agent: dict | str | None) -> str | None:
    """A claim generator or software agent as "name version" (C2PA allows a dict or a plain string)."""
    if isinstance(agent, dict):
        return " ".join(str(agent[k]) for k in ("name", "version") if agent.get(k)) or None
    return agent
