"""Ledger: events, interior tree nodes, the head row, checkpoints.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from andon.store.types import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# INTEGER PRIMARY KEY on SQLite makes the leaf index the rowid.
LEDGER_INDEX = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_events",
        sa.Column("idx", LEDGER_INDEX, nullable=False, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("workflow", sa.String(200), nullable=True),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("incident_id", sa.String(200), nullable=True),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_ledger_events"),
    )
    for column in ("workflow", "run_id", "time"):
        op.create_index(f"ix_ledger_events_{column}", "ledger_events", [column])
    # Partial: almost no event names an incident, and appends pay for every index.
    op.create_index(
        "ix_ledger_events_incident_id",
        "ledger_events",
        ["incident_id"],
        sqlite_where=sa.text("incident_id IS NOT NULL"),
        postgresql_where=sa.text("incident_id IS NOT NULL"),
    )
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.SmallInteger, nullable=False, autoincrement=False),
        sa.Column("position", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name="pk_ledger_nodes"),
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("frontier", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_head"),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0, "frontier": b""}])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_checkpoints"),
    )
    op.create_index("ix_ledger_checkpoints_size", "ledger_checkpoints", ["size"])


def downgrade() -> None:
    op.drop_index("ix_ledger_checkpoints_size", "ledger_checkpoints")
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_head")
    op.drop_table("ledger_nodes")
    for column in ("workflow", "run_id", "time", "incident_id"):
        op.drop_index(f"ix_ledger_events_{column}", "ledger_events")
    op.drop_table("ledger_events")
