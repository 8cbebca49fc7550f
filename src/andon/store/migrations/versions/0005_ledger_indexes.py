"""Ledger: composite indexes for the audit explorer's filters, in leaf-index order.

The explorer and ``GET /v1/events`` page by keyset on the leaf index (newest first), filtered by
workflow, run or kind. An index on ``(column, idx)`` answers "the next 100 of this workflow below
index N" by walking the index, on PostgreSQL as well as SQLite (where every index already ends in
the rowid). The workflow index also carries ``kind``, so "this workflow's approvals" is checked in
the index without reading each row. A time filter is first turned into a span of leaf indexes through
``(time, idx)``. The single-column workflow, run_id and time indexes of 0002 become prefixes of these,
so they go: each index costs every append.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COMPOSITE = {
    "ix_ledger_events_workflow_idx": ["workflow", "idx", "kind"],
    "ix_ledger_events_run_id_idx": ["run_id", "idx"],
    "ix_ledger_events_kind_idx": ["kind", "idx"],
    "ix_ledger_events_time_idx": ["time", "idx"],
}
REPLACED = ("workflow", "run_id", "time")


def upgrade() -> None:
    for column in REPLACED:
        op.drop_index(f"ix_ledger_events_{column}", "ledger_events")
    for name, columns in COMPOSITE.items():
        op.create_index(name, "ledger_events", columns)


def downgrade() -> None:
    for name in COMPOSITE:
        op.drop_index(name, "ledger_events")
    for column in REPLACED:
        op.create_index(f"ix_ledger_events_{column}", "ledger_events", [column])
