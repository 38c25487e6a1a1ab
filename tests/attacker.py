"""What an attacker with write access to the studio's database has: plain SQL, no ledger key."""

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
