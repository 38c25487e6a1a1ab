"""The store as Sitter first shipped it: the consent ledger (events, signed head, personal data) and the
registry of signed outputs.

Each table is created only when missing: a database made before migrations existed (by the ledger and
registry creating their own tables) is adopted as it is, and so is one that has only some of them.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "ledger_events" not in existing:
        op.create_table(
            "ledger_events",
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("record_id", sa.String(32), nullable=False),
            sa.Column("kind", sa.String(16), nullable=False),
            sa.Column("at", sa.String(32), nullable=False),
            sa.Column("body", sa.Text, nullable=False),
            sa.Column("prev_hash", sa.String(64), nullable=False),
            sa.Column("hash", sa.String(64), nullable=False, unique=True),
            sa.Column("signature", sa.String(128), nullable=False),
        )
        op.create_index("ix_ledger_events_record_id", "ledger_events", ["record_id"])
    if "ledger_head" not in existing:
        op.create_table(
            "ledger_head",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("seq", sa.Integer, nullable=False),
            sa.Column("hash", sa.String(64), nullable=False),
            sa.Column("signature", sa.String(128), nullable=False),
        )
    if "personal_data" not in existing:
        op.create_table(
            "personal_data",
            sa.Column("ref", sa.String(64), primary_key=True),
            sa.Column("record_id", sa.String(32), nullable=False),
            sa.Column("salt", sa.String(64), nullable=False),
            sa.Column("data", sa.Text, nullable=False),
        )
        op.create_index("ix_personal_data_record_id", "personal_data", ["record_id"])
    if "provenance_manifests" not in existing:
        op.create_table(
            "provenance_manifests",
            sa.Column("watermark_id", sa.String(64), primary_key=True),
            sa.Column("output_id", sa.String(64), nullable=False, unique=True),
            sa.Column("created_at", sa.String(32), nullable=False),
            sa.Column("record_id", sa.String(32), nullable=False),
            sa.Column("engine", sa.String(64), nullable=False),
            sa.Column("sha256", sa.String(64), nullable=False),
            sa.Column("manifest", sa.LargeBinary, nullable=False),
        )
        op.create_index("ix_provenance_manifests_record_id", "provenance_manifests", ["record_id"])


def downgrade() -> None:
    raise RuntimeError("the ledger is append-only evidence: Sitter never drops its store")
