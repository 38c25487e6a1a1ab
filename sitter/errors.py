"""One error family for all of Sitter: every part's exceptions derive from one of three kinds.

    BadInput     exit 2  what was given can't be used (a file, an option, a landmark, a video)
    Refused      exit 3  consent does not allow this use
    CheckFailed  exit 1  something that must hold does not (the ledger, a signature, a worker)

The CLI, the studio and the Ray runner all catch `SitterError` and nothing narrower, and show its message as one
sentence. Messages never carry personal data: no names, no free text, no file names. The file concerned, when there
is one, is on `path`, so that the caller (who chose it) can say which option it came from.

Every error pickles as itself (`__reduce__`): a render worker on a Ray cluster sends it back to its caller as it is.
"""

from pathlib import Path

EXIT_CHECK_FAILED, EXIT_BAD_INPUT, EXIT_REFUSED = 1, 2, 3


class SitterError(Exception):
    """Base class of every domain error. `exit_code` is the process exit status the CLI gives it."""

    exit_code = EXIT_CHECK_FAILED

    def __init__(self, message: str, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.path = path

    def __reduce__(self) -> tuple:
        """Rebuild from the message, then restore every attribute: subclasses whose constructors take other
        arguments (a Fault, a list of missing files) cross a process boundary unchanged."""
        return type(self), (str(self),), dict(vars(self))


class BadInput(SitterError):
    """Something given to Sitter can't be used; the message says what and, where it helps, what to do."""

    exit_code = EXIT_BAD_INPUT


class Refused(SitterError):
    """Consent does not cover the use asked for; the subclass names the rule that failed."""

    exit_code = EXIT_REFUSED


class CheckFailed(SitterError):
    """A check that must pass did not: the ledger does not verify, signing failed, a render worker died."""

    exit_code = EXIT_CHECK_FAILED
