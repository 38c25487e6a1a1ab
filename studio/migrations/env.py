"""Alembic's entry point for the studio's store: the ledger's tables (consent/) and the registry's
(provenance/), in one database.

`studio.store.upgrade` runs it on a connection whose transaction already holds the store's write lock,
so two processes starting on an empty database migrate it once, one after the other. Run by hand
(`alembic -c studio/migrations/alembic.ini revision --autogenerate -m "..."` to write a new migration),
it opens the URL in alembic.ini or $SITTER_DB_URL and takes the same lock.
"""

import os

from alembic import context

from consent import Ledger
from provenance import Registry
from sitter.database import connect, serialize

TARGET = [Ledger.tables, Registry.tables]


def migrate(connection: object) -> None:
    context.configure(connection=connection, target_metadata=TARGET, render_as_batch=True)
    with context.begin_transaction():
        serialize(connection)
        context.run_migrations()


shared = context.config.attributes.get("connection")
if shared is not None:
    migrate(shared)
else:
    engine = connect(os.environ.get("SITTER_DB_URL") or context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as own:
        migrate(own)
    engine.dispose()
