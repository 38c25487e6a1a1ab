"""Reading a file a user named, once and bounded: what is hashed is what is used, and a huge file is refused unread."""

import hashlib
from pathlib import Path

from sitter.errors import SitterError


def read_bounded(path: Path | str, *, limit: int, what: str, error: type[SitterError]) -> bytes:
    """The bytes of the file at `path`, read once; `error` with a one-line reason naming it by `what` ("image",
    "evidence file") when it is missing, a folder, unreadable, empty or over `limit` bytes."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{what} not found", path) from None
    except IsADirectoryError:
        raise error(f"{what} not found (that is a folder)", path) from None
    except OSError as err:
        raise error(f"{what} can't be read ({err.strerror or 'I/O error'})", path) from None
    if not data:
        raise error(f"{what} is empty (0 bytes)", path)
    if len(data) > limit:
        raise error(f"{what} too large: over {limit // 2**20} MB", path)
    return data


def file_sha256(path: Path | str) -> str:
    """SHA-256 of a whole file's bytes, streamed: what the registry, a manifest's sound and a verify report identify a
    file by (a source image is bound by its pixels instead: sitter.images.pixel_sha256)."""
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
