"""Everything that can go wrong in provenance/, one small class each.

The one module that calls c2pa catches `c2pa.C2paError` and re-raises one of these `from` it;
anything else escaping provenance/ is a bug. Each belongs to one of sitter.errors' families.
"""

from sitter.errors import BadInput, CheckFailed, SitterError


class ProvenanceError(SitterError):
    """Base class of every provenance/ failure."""


class FrameTooSmall(ProvenanceError, BadInput):
    """A frame is smaller than the watermark can carry (under 256x256)."""


class SigningFailed(ProvenanceError, CheckFailed):
    """The C2PA manifest could not be signed into the output."""


class ManifestInvalid(ProvenanceError, CheckFailed):
    """A C2PA manifest is present but malformed or fails validation."""


class RegistryMiss(ProvenanceError, CheckFailed):
    """No manifest is registered under this watermark id."""


class UnreadableMedia(ProvenanceError, BadInput):
    """A file is not a video Sitter can read: missing, empty, truncated, or not a video."""


class BadTrustAnchors(ProvenanceError, BadInput):
    """A trust anchor given to the verifier is not a readable PEM file of certificates."""


class SigningMisconfigured(ProvenanceError, BadInput):
    """The signing settings are incomplete or name files that are not a certificate chain and its key."""


class BadCaption(ProvenanceError, BadInput):
    """The visible caption or corner mark can't be drawn: a control character, a character no font here has, or
    text too long for the frame."""


class OutputNotWritable(ProvenanceError, BadInput):
    """The output's folder can't be written."""


class OutputExists(ProvenanceError, BadInput):
    """A file is at the output path, and replacing it was not asked for."""
