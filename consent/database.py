"""One way to open the studio's database, whatever the URL: SQLite by default, PostgreSQL for teams.

SQLite is set up for several processes writing at once: WAL journal (readers never block the
writer), a busy timeout instead of instant "database is locked" errors, and `BEGIN IMMEDIATE` so a
transaction takes the write lock before it reads the chain head. Without that, two writers could
read the same head and fork the hash chain.
"""

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_MS = 60_000


def connect(url: str) -> Engine:
    """Create an Engine for `url`; a SQLite file's folder is created when missing."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    in_memory = url in ("sqlite://", "sqlite:///:memory:")
    if not in_memory:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
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
