"""provenance/: labels every output (watermark, C2PA manifest, registry) and verifies any clip.

The names here are what the studio's render pipeline, CLI and app use, and the verifier's report. The parts
behind them (the watermark, the manifest signing, the video encoder) are reached through their modules.
"""

from provenance.disclosure import Corner, Disclosure, DisclosureStyle
from provenance.errors import ProvenanceError, SigningMisconfigured
from provenance.keys import (
    StudioSigner,
    certificate_signer,
    describe,
    development_signer,
    development_trust_anchor,
)
from provenance.manifest import (
    TRAINED_ALGORITHMIC_MEDIA,
    ManifestReport,
    SoundKind,
    SoundSource,
    ValidationState,
    declared_source_type,
)
from provenance.registry import Registry
from provenance.stage import ConsentRef, Output, inputs_folder, stage, sweep
from provenance.verify import RegistryLookup, SoundReport, Verdict, VerifyReport, verify
from provenance.video import probe

__all__ = [
    "TRAINED_ALGORITHMIC_MEDIA",
    "ConsentRef",
    "Corner",
    "Disclosure",
    "DisclosureStyle",
    "ManifestReport",
    "Output",
    "ProvenanceError",
    "Registry",
    "RegistryLookup",
    "SigningMisconfigured",
    "SoundKind",
    "SoundReport",
    "SoundSource",
    "StudioSigner",
    "ValidationState",
    "Verdict",
    "VerifyReport",
    "certificate_signer",
    "declared_source_type",
    "describe",
    "development_signer",
    "development_trust_anchor",
    "inputs_folder",
    "probe",
    "stage",
    "sweep",
    "verify",
]
