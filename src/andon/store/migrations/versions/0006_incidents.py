"""Incidents: the incident record, its signals, containment and recovery actions, evidence freezes,
first-hour checklist, clock acts, escalations sent, and the post-incident review.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from andon.store.types import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("number", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("incident_class", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(100), nullable=False),
        sa.Column("workflow", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("runbook_revision", sa.Integer, nullable=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("owners", sa.JSON, nullable=False),
        sa.Column("data_classes", sa.JSON, nullable=False),
        sa.Column("suspect_versions", sa.JSON, nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(200), nullable=False),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        sa.Column("contained_at", UTCDateTime(), nullable=True),
        sa.Column("contained_by", sa.String(200), nullable=True),
        sa.Column("mitigated_at", UTCDateTime(), nullable=True),
        sa.Column("mitigated_by", sa.String(200), nullable=True),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(200), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(200), nullable=True),
        sa.Column("open_key", sa.String(400), nullable=True),
        sa.Column("related", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("number", name="pk_incidents"),
        sa.UniqueConstraint("open_key", name="uq_incidents_open_key"),
    )
    op.create_index("ix_incidents_workflow", "incidents", ["workflow"])
    op.create_table(
        "incident_signals",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("incident", sa.Integer, nullable=False),
        sa.Column("detector", sa.String(100), nullable=False),
        sa.Column("dedup_key", sa.String(400), nullable=False),
        sa.Column("trigger_index", sa.BigInteger, nullable=False),
        sa.Column("time", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("hint", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_signals"),
    )
    op.create_index(
        "ix_incident_signals_key", "incident_signals", ["dedup_key", "trigger_index"], unique=True
    )
    op.create_index("ix_incident_signals_incident", "incident_signals", ["incident"])
    op.create_table(
        "incident_actions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("incident", sa.Integer, nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("switch_id", sa.String(40), nullable=True),
        sa.Column("freeze_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("cleared_at", UTCDateTime(), nullable=True),
        sa.Column("cleared_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incident_actions"),
    )
    op.create_index("ix_incident_actions_incident", "incident_actions", ["incident"])
    op.create_table(
        "incident_freezes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("incident", sa.Integer, nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("events", sa.Integer, nullable=False),
        sa.Column("tree_size", sa.BigInteger, nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_freezes"),
    )
    op.create_index("ix_incident_freezes_incident", "incident_freezes", ["incident"])
    op.create_table(
        "incident_checklist",
        sa.Column("incident", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("position", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner_role", sa.String(100), nullable=False),
        sa.Column("owner_contact", sa.String(200), nullable=True),
        sa.Column("within_seconds", sa.Integer, nullable=True),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("incident", "position", name="pk_incident_checklist"),
    )
    op.create_table(
        "incident_acts",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("incident", sa.Integer, nullable=False),
        sa.Column("act", sa.String(10), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("regime", sa.String(40), nullable=True),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("statement", sa.Text, nullable=False),
        sa.Column("reference", sa.String(200), nullable=False),
        sa.Column("disposition", sa.String(20), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_acts"),
    )
    op.create_index("ix_incident_acts_incident", "incident_acts", ["incident"])
    op.create_table(
        "incident_escalations",
        sa.Column("incident", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("dedup_key", sa.String(400), nullable=False),
        sa.Column("clock", sa.String(100), nullable=False),
        sa.Column("contacts", sa.JSON, nullable=False),
        sa.Column("claimed_at", UTCDateTime(), nullable=False),
        sa.Column("delivered", sa.Boolean(), nullable=True),
        sa.Column("report", sa.JSON, nullable=True),
        sa.PrimaryKeyConstraint("incident", "dedup_key", name="pk_incident_escalations"),
    )
    op.create_table(
        "incident_reviews",
        sa.Column("incident", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("root_cause", sa.String(40), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("no_eval_reason", sa.Text, nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("signed_off_at", UTCDateTime(), nullable=True),
        sa.Column("signed_off_by", sa.String(200), nullable=True),
        sa.Column("signed_off_actor", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("incident", name="pk_incident_reviews"),
    )
    op.create_table(
        "incident_review_items",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("incident", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incident_review_items"),
    )
    op.create_index("ix_incident_review_items_incident", "incident_review_items", ["incident"])
    op.create_table(
        "incident_eval_cases",
        sa.Column("id", sa.Integer, nullable=False, autoincrement=True),
        sa.Column("incident", sa.Integer, nullable=False),
        sa.Column("source_index", sa.BigInteger, nullable=True),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("input", sa.JSON, nullable=True),
        sa.Column("expected", sa.JSON, nullable=False),
        sa.Column("actual", sa.JSON, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incident_eval_cases"),
    )
    op.create_index("ix_incident_eval_cases_incident", "incident_eval_cases", ["incident"])


def downgrade() -> None:
    op.drop_table("incident_eval_cases")
    op.drop_table("incident_review_items")
    op.drop_table("incident_reviews")
    op.drop_table("incident_escalations")
    op.drop_table("incident_acts")
    op.drop_table("incident_checklist")
    op.drop_table("incident_freezes")
    op.drop_table("incident_actions")
    op.drop_table("incident_signals")
    op.drop_table("incidents")
