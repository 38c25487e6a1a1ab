"""The studio's own errors: a render request or an upload that can't be used, a data directory that can't be kept
private (sitter.errors' bad-input family), a ledger key gone missing (a failed check)."""

from sitter.errors import BadInput, CheckFailed


class BadRequest(BadInput):
    """A render request or an upload that can't be used: an unknown engine, not an .mp4, a frame rate out of range,
    an upload over its size limit."""


class HomeNotPrivate(BadInput):
    """SITTER_HOME, or something in it, can't be made owner-only (0700 folders, 0600 files): another user owns it,
    or its modes can't be changed. Bad input: the data directory is a setting, and the fix is to choose one you
    own."""


class LedgerKeyMissing(CheckFailed):
    """The ledger key file is gone while the ledger holds rows it signed; a new key would not continue the chain,
    so the studio refuses until the key is restored from backup."""
