"""Registry rows are pending until their output is published: `provenance_manifests.published`.

A render registers its output before the consent re-check and publishes the row once the file is in place
(provenance/staging.py); lookups see published rows only. Every row already there was published when it was
written, so the column starts true for them. A table made by the registry itself (code newer than the
database's migrations) already has the column and is left as it is.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("provenance_manifests")}
    if "published" not in columns:
        with op.batch_alter_table("provenance_manifests") as batch:
            batch.add_column(sa.Column("published", sa.Boolean, nullable=False, server_default=sa.true()))


def downgrade() -> None:
    raise RuntimeError("the ledger is append-only evidence: Sitter never drops its store")
