"""One way to open the studio's database, whatever the URL: SQLite by default, PostgreSQL for teams. The consent
ledger and the provenance registry share it, each with its own tables; neither knows the other.

The ledger is a hash chain: every append reads the chain head and writes the next row, so two writers
must never read the same head. `serialize` makes a write transaction the only one that appends:
- SQLite: WAL journal (readers never block the writer), a busy timeout instead of instant "database is
  locked" errors, and `BEGIN IMMEDIATE`, so a transaction holds the write lock from its first read;
- PostgreSQL: a transaction-scoped advisory lock (`pg_advisory_xact_lock`), taken first thing in the
  transaction and released by its commit or rollback. Readers are never blocked.
"""

import os
from contextlib import suppress
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from sitter.errors import BadInput

BUSY_TIMEOUT_MS = 60_000
WRITE_LOCK = 0x5174_7e12  # the advisory lock's key on PostgreSQL: any fixed number, the same in every process
DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}  # bare names: use psycopg 3


class BadDatabaseUrl(BadInput):
    """The database URL is not one Sitter can open: not a URL, another database, or a driver missing."""


def connect(url: str) -> Engine:
    """Create an Engine for a SQLite or PostgreSQL `url`; a SQLite file's folder is created when missing."""
    url = normalize(url)
    if url.startswith("postgresql"):
        return _postgres(url)
    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    if not in_memory:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        _create_private(Path(url.removeprefix("sqlite:///")))
    engine = create_engine(
        url,
        # an in-memory database lives in one connection: share it (tests, throwaway ledgers)
        poolclass=StaticPool if in_memory else None,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" event issue BEGIN itself
        cursor = dbapi_conn.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def normalize(url: str) -> str:
    """The URL with its driver spelled out (postgresql:// means psycopg 3); BadDatabaseUrl for other databases."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BadDatabaseUrl("the database URL is not a URL: use sqlite:///PATH or postgresql://USER@HOST/DB") from None
    if parsed.drivername in DRIVERS:
        parsed = parsed.set(drivername=DRIVERS[parsed.drivername])
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise BadDatabaseUrl(f"Sitter's store runs on SQLite or PostgreSQL, not {parsed.get_backend_name()}")
    return parsed.render_as_string(hide_password=False)


def serialize(conn: Connection) -> None:
    """Make the transaction `conn` is in the only writer until it ends (see the module docstring)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK})


def create_tables(engine: Engine, metadata: MetaData) -> None:
    """Create the tables that are missing, one process at a time (two creating at once collide on PostgreSQL).

    For code that opens a store directly (tests, scripts); the studio migrates its database with Alembic
    first (studio/store.py), which leaves nothing for this to do.
    """
    with engine.begin() as conn:
        serialize(conn)
        metadata.create_all(conn)


def _create_private(path: Path) -> None:
    """Create a missing SQLite file owner-only (0600) before SQLite opens it: SQLite gives its -wal and -shm
    files the database file's mode, so they are owner-only too. An existing file is left as it is."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _postgres(url: str) -> Engine:
    try:
        return create_engine(url, pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError):
        raise BadDatabaseUrl("PostgreSQL needs its driver: pip install 'sitter[postgres]' (psycopg 3)") from None
