"""Everything that can go wrong in consent/, one small class each.

The CLI and the studio map these to exit codes and one-line messages. Messages never carry personal
data (names, contact details, free-text reasons): only record ids, hashes, purposes and dates.
"""


class ConsentError(Exception):
    """Base class of every consent/ failure."""


class InvalidInput(ConsentError):
    """A value given to the ledger is unusable: empty name, past expiry, unknown purpose, missing file.

    `path`, when set, is the file the caller named; it is kept out of the message because a file name
    can itself be personal data, and the caller (who chose it) may show it.
    """

    def __init__(self, message: str, path: "object" = None) -> None:
        super().__init__(message)
        self.path = path


class UnreadableImage(InvalidInput):
    """A source image could not be decoded (missing, corrupt, zero bytes, not an image, too large)."""


class RecordNotFound(InvalidInput):
    """No consent record has this id."""


class ConsentRefused(ConsentError):
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


class LedgerTampered(ConsentError):
    """The ledger's hash chain or a signature does not verify; `fault` names the first bad row."""

    def __init__(self, fault: "object") -> None:
        super().__init__(str(fault))
        self.fault = fault
