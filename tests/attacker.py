"""What an attacker with write access to the studio's database has: plain SQL, no ledger key."""

import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, create_engine


@contextmanager
def sql(url: str) -> Iterator[Connection]:
    """Direct access to the ledger's database, as an attacker with the file or a login would have."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG that claims to be width x height with one tiny compressed row: enough for a reader to learn its size
    (a decompression bomb's shape), and no more."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + pixels + chunk(b"IEND", b"")
