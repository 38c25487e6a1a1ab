"""provenance/: labels every output (watermark, C2PA manifest, registry) and verifies any clip.

The names here are what the studio's render pipeline, CLI and app use, and the verifier's report. The parts
behind them (the watermark, the manifest signing, the video encoder) are reached through their modules. Each name
is imported when first used (sitter.lazy), so a command that only shows the signing keys never loads C2PA or FFmpeg.
"""

from sitter.lazy import exports

__all__, __getattr__, __dir__ = exports(__name__, {
    "provenance.disclosure": ("Corner", "Disclosure", "DisclosureStyle"),
    "provenance.errors": ("ProvenanceError", "SigningMisconfigured"),
    "provenance.keys": ("StudioSigner", "certificate_signer", "describe", "development_signer",
                        "development_trust_anchor"),
    "provenance.manifest": ("TRAINED_ALGORITHMIC_MEDIA", "ManifestReport", "SoundKind", "SoundSource",
                            "ValidationState", "declared_source_type"),
    "provenance.registry": ("Registry",),
    "provenance.staging": ("ConsentRef", "Output", "inputs_folder", "stage", "sweep"),
    "provenance.verifier": ("RegistryLookup", "SoundReport", "Verdict", "VerifyReport", "verify"),
    "provenance.video": ("probe",),
})
