"""Control plane: epoch, switches, rate buckets, actions, approvals, versions and labels, event batches.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from andon.store.types import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    epoch = op.create_table(
        "control_epoch",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_control_epoch"),
    )
    op.bulk_insert(epoch, [{"id": 1, "epoch": 0}])
    op.create_table(
        "control_switches",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("workflow", sa.String(200), nullable=True),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
        sa.Column("cleared_by", sa.String(200), nullable=True),
        sa.Column("cleared_reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_control_switches"),
    )
    op.create_index("ix_control_switches_workflow", "control_switches", ["workflow"])
    op.create_table(
        "control_buckets",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_control_buckets"),
    )
    op.create_table(
        "control_actions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workflow", sa.String(200), nullable=False),
        sa.Column("tool", sa.String(200), nullable=False),
        sa.Column("effect", sa.String(10), nullable=False),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("approval_id", sa.String(40), nullable=True),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("versions", sa.JSON, nullable=False),
        sa.Column("confidence", sa.Float, nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("before", sa.JSON, nullable=True),
        sa.Column("after", sa.JSON, nullable=True),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("undo", sa.String(200), nullable=True),
        sa.Column("rolled_back_at", UTCDateTime(), nullable=True),
        sa.Column("rolled_back_by", sa.String(200), nullable=True),
        sa.Column("ledger_index", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_control_actions"),
    )
    op.create_index("ix_control_actions_run_id", "control_actions", ["run_id"])
    op.create_index("ix_control_actions_workflow_finished", "control_actions", ["workflow", "finished_at"])
    op.create_table(
        "control_approvals",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("action_id", sa.String(40), nullable=False),
        sa.Column("workflow", sa.String(200), nullable=False),
        sa.Column("tool", sa.String(200), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("context", sa.JSON, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("edited_args", sa.JSON, nullable=True),
        sa.Column("executed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_control_approvals"),
    )
    for column in ("action_id", "workflow", "status"):
        op.create_index(f"ix_control_approvals_{column}", "control_approvals", [column])
    op.create_table(
        "control_versions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workflow", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("version", sa.String(100), nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_control_versions"),
    )
    op.create_index(
        "ix_control_versions_key", "control_versions", ["workflow", "kind", "name", "version"], unique=True
    )
    op.create_table(
        "control_labels",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("workflow", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("label", sa.String(40), nullable=False),
        sa.Column("version_id", sa.String(40), nullable=False),
        sa.Column("moved_at", UTCDateTime(), nullable=False),
        sa.Column("moved_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_control_labels"),
    )
    op.create_index("ix_control_labels_key", "control_labels", ["workflow", "kind", "name", "label"])
    op.create_table(
        "control_event_batches",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_control_event_batches"),
    )


def downgrade() -> None:
    op.drop_table("control_event_batches")
    op.drop_index("ix_control_labels_key", "control_labels")
    op.drop_table("control_labels")
    op.drop_index("ix_control_versions_key", "control_versions")
    op.drop_table("control_versions")
    for column in ("action_id", "workflow", "status"):
        op.drop_index(f"ix_control_approvals_{column}", "control_approvals")
    op.drop_table("control_approvals")
    op.drop_index("ix_control_actions_workflow_finished", "control_actions")
    op.drop_index("ix_control_actions_run_id", "control_actions")
    op.drop_table("control_actions")
    op.drop_table("control_buckets")
    op.drop_index("ix_control_switches_workflow", "control_switches")
    op.drop_table("control_switches")
    op.drop_table("control_epoch")
