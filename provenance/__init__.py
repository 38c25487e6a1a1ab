"""provenance/: labels every output (watermark, C2PA manifest, registry) and verifies any clip."""

from provenance.errors import (
    BadCaption,
    BadTrustAnchors,
    FrameTooSmall,
    ManifestInvalid,
    ProvenanceError,
    RegistryMiss,
    SigningFailed,
    SigningMisconfigured,
    UnreadableMedia,
    WatermarkNotFound,
)
from provenance.keys import (
    StudioSigner,
    callback_signer,
    certificate_signer,
    describe,
    development_signer,
    development_trust_anchor,
)
from provenance.label import Output, inputs_folder, label_and_sign, sweep
from provenance.manifest import (
    ManifestReport,
    SoundKind,
    SoundSource,
    ValidationState,
    declared_source_type,
    read_manifest,
    sign_video,
)
from provenance.registry import Registry
from provenance.verify import RegistryLookup, SoundReport, Verdict, VerifyReport, verify
from provenance.watermark import read_watermark, watermark_frames

__all__ = [
    "BadCaption",
    "BadTrustAnchors",
    "FrameTooSmall",
    "ManifestInvalid",
    "ManifestReport",
    "Output",
    "ProvenanceError",
    "Registry",
    "RegistryLookup",
    "RegistryMiss",
    "SigningFailed",
    "SigningMisconfigured",
    "SoundKind",
    "SoundReport",
    "SoundSource",
    "StudioSigner",
    "UnreadableMedia",
    "ValidationState",
    "Verdict",
    "VerifyReport",
    "WatermarkNotFound",
    "callback_signer",
    "certificate_signer",
    "declared_source_type",
    "describe",
    "development_signer",
    "development_trust_anchor",
    "inputs_folder",
    "label_and_sign",
    "read_manifest",
    "read_watermark",
    "sign_video",
    "sweep",
    "verify",
    "watermark_frames",
]
