"""Runbook revisions.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from andon.store.types import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runbook_revisions",
        sa.Column("revision", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("revision", name="pk_runbook_revisions"),
    )
    op.create_index("ix_runbook_revisions_digest", "runbook_revisions", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_runbook_revisions_digest", "runbook_revisions")
    op.drop_table("runbook_revisions")
