"""The studio's database schema, kept current with Alembic (migrations in studio/migrations/).

`upgrade` is what `sitter db upgrade` runs, and what the studio runs by itself before it first opens a
database (Settings.open_ledger / open_registry): an empty database is created at the newest schema, an
older one is brought up to it, one made before migrations existed is adopted. It is safe to run from
several processes at once: the migration holds the store's write lock (sitter.database.serialize).

Every command first asks `is_current` (one query, no Alembic import: Alembic costs a command ~0.2 s to import) and
upgrades only when the database is behind.

Example:

    upgrade("postgresql://sitter@db/sitter")   # -> "0002"
    revision("sqlite:///~/.sitter/sitter.db")  # -> "0002", or None for a database never migrated
    is_current("sqlite:///~/.sitter/sitter.db")  # -> True once it is at HEAD
"""

from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sitter.database import connect, normalize

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(str(files("studio") / "migrations"))
HEAD = "0002"  # the newest revision in migrations/versions (tests/test_store.py holds the two equal)


def is_current(url: str) -> bool:
    """Whether the database at `url` is at this version's schema (HEAD), asked with one query."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
    except DBAPIError:  # no alembic_version table: a new database, or one made before migrations existed
        return False
    finally:
        engine.dispose()


def upgrade(url: str) -> str:
    """Bring the database at `url` to the newest schema; return its revision."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    engine = connect(url)
    try:
        with engine.begin() as conn:
            config = _config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def revision(url: str) -> str | None:
    """The schema revision the database is at; None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    engine = connect(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this version of Sitter knows, as its migration scripts say."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config("sqlite://")).get_current_head()


def _config(url: str) -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize(url).replace("%", "%%"))
    return config
