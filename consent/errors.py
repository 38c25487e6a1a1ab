"""Everything that can go wrong in consent/, one small class each, each in one of sitter.errors' families.

Messages never carry personal data (names, contact details, free-text reasons): only record ids,
hashes, purposes and dates.
"""

from sitter.errors import BadInput, CheckFailed, Refused, SitterError


class ConsentError(SitterError):
    """Base class of every consent/ failure."""


class InvalidInput(ConsentError, BadInput):
    """A value given to the ledger is unusable: empty name, past expiry, unknown purpose, missing file."""


class RecordNotFound(InvalidInput):
    """No consent record has this id."""


class ConsentRefused(ConsentError, Refused):
    """The gate refused a use; the subclass names the rule that failed."""


class SourceNotCovered(ConsentRefused):
    """No single consent record covers every source image of the request."""


class ConsentRevoked(ConsentRefused):
    """The record covering the sources was revoked."""


class ConsentExpired(ConsentRefused):
    """The record covering the sources is past its expiry date."""


class ConsentErased(ConsentRefused):
    """The record's personal data was erased; it can no longer support a use."""


class PurposeNotAllowed(ConsentRefused):
    """The record covering the sources does not allow the requested purpose."""


class LedgerTampered(ConsentError, CheckFailed):
    """The ledger's hash chain or a signature does not verify; `fault` names the first bad row."""

    def __init__(self, fault: "object", message: str | None = None) -> None:
        super().__init__(message or str(fault))
        self.fault = fault


class LedgerKeyUnusable(ConsentError, CheckFailed):
    """The ledger key file is there but holds no usable Ed25519 private key: empty, corrupt, another kind of key,
    encrypted, or unreadable. A failed check, not bad input: the file is the studio's own, not something given to
    a command, and like a ledger that does not verify it needs the studio's backup, not a different argument."""
