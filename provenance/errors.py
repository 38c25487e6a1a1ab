"""Everything that can go wrong in provenance/, one small class each.

The one module that calls c2pa catches `c2pa.C2paError` and re-raises one of these `from` it;
anything else escaping provenance/ is a bug.
"""


class ProvenanceError(Exception):
    """Base class of every provenance/ failure."""


class WatermarkNotFound(ProvenanceError):
    """No frame of the clip carries a Sitter watermark that decodes with a valid check."""


class FrameTooSmall(ProvenanceError):
    """A frame is smaller than the watermark can carry (under 256x256)."""


class SigningFailed(ProvenanceError):
    """The C2PA manifest could not be signed into the output."""


class ManifestInvalid(ProvenanceError):
    """A C2PA manifest is present but malformed or fails validation."""


class RegistryMiss(ProvenanceError):
    """No manifest is registered under this watermark id."""


class UnreadableMedia(ProvenanceError):
    """A file is not a video Sitter can read: missing, empty, truncated, or not a video."""


class BadTrustAnchors(ProvenanceError):
    """A trust anchor given to the verifier is not a readable PEM file of certificates."""
