"""The studio's database schema, kept current with Alembic (migrations in studio/migrations/).

`upgrade` is what `sitter db upgrade` runs, and what the studio runs by itself before it first opens a
database (Settings.open_ledger / open_registry): an empty database is created at the newest schema, an
older one is brought up to it, one made before migrations existed is adopted. It is safe to run from
several processes at once: the migration holds the store's write lock (sitter.database.serialize).

Example:

    upgrade("postgresql://sitter@db/sitter")   # -> "0002"
    revision("sqlite:///~/.sitter/sitter.db")  # -> "0002", or None for a database never migrated
"""

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from sitter.database import connect, normalize

MIGRATIONS = Path(str(files("studio") / "migrations"))


def upgrade(url: str) -> str:
    """Bring the database at `url` to the newest schema; return its revision."""
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
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision this version of Sitter knows."""
    return ScriptDirectory.from_config(_config("sqlite://")).get_current_head()


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalize(url).replace("%", "%%"))
    return config
