"""Ledger: composite indexes for the audit explorer's filters, in leaf-index order.

The explorer and ``GET /v1/events`` page by keyset on the leaf index (newest first), filtered by
workflow, run or kind. An index on ``(column, idx)`` answers "the next 100 of this workflow below
index N" by walking the index, on PostgreSQL as well as SQLite (where every index already ends in
the rowid). The single-column workflow and run_id indexes become prefixes of the new ones, so they
go: each index costs every append.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COMPOSITE = {
    "ix_ledger_events_workflow_idx": ["workflow", "idx"],
    "ix_ledger_events_run_id_idx": ["run_id", "idx"],
    "ix_ledger_events_kind_idx": ["kind", "idx"],
}


def upgrade() -> None:
    op.drop_index("ix_ledger_events_workflow", "ledger_events")
    op.drop_index("ix_ledger_events_run_id", "ledger_events")
    for name, columns in COMPOSITE.items():
        op.create_index(name, "ledger_events", columns)


def downgrade() -> None:
    for name in COMPOSITE:
        op.drop_index(name, "ledger_events")
    op.create_index("ix_ledger_events_workflow", "ledger_events", ["workflow"])
    op.create_index("ix_ledger_events_run_id", "ledger_events", ["run_id"])
