"""All tables, as SQLAlchemy Core. Migrations in ``store/migrations`` must match these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy import text as sa_text

from andon.store.types import UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# -- runbook ---------------------------------------------------------------------------------------
# A runbook applied to the store becomes an immutable, numbered revision.
runbook_revisions = Table(
    "runbook_revisions",
    metadata,
    Column("revision", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("source", Text, nullable=False),
    Column("digest", String(64), nullable=False, index=True),
    Column("document", JSON, nullable=False),
)

# -- ledger ----------------------------------------------------------------------------------------
# The append-only event log. ``idx`` is the gapless leaf index; ``data`` the canonical JSON bytes
# that ``leaf_hash`` covers; the other columns are copies taken from ``data`` for querying.
# On SQLite the index is the rowid (INTEGER PRIMARY KEY), which keeps appends fast.
LedgerIndex = BigInteger().with_variant(Integer(), "sqlite")

ledger_events = Table(
    "ledger_events",
    metadata,
    Column("idx", LedgerIndex, primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("workflow", String(200), nullable=True),
    Column("run_id", String(200), nullable=True),
    Column("incident_id", String(200), nullable=True),
    Column("time", UTCDateTime(), nullable=False),
    Column("data", LargeBinary, nullable=False),
    # Partial: almost no event names an incident, so the index stays small and appends stay fast.
    Index(
        "ix_ledger_events_incident_id",
        "incident_id",
        sqlite_where=sa_text("incident_id IS NOT NULL"),
        postgresql_where=sa_text("incident_id IS NOT NULL"),
    ),
    # Filters in leaf-index order, for keyset pages (migration 0005); kind rides along in the
    # workflow index so a workflow + kind filter is checked without reading rows.
    Index("ix_ledger_events_workflow_idx", "workflow", "idx", "kind"),
    Index("ix_ledger_events_run_id_idx", "run_id", "idx"),
    Index("ix_ledger_events_kind_idx", "kind", "idx"),
    Index("ix_ledger_events_time_idx", "time", "idx"),
)

# Interior nodes of complete subtrees at level >= 4 (16 leaves and up): a proof reads O(log n)
# of these plus at most a few runs of 16 leaf hashes. Level 0 hashes live in ledger_events.
ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)

# One row (id = 1): the tree size and its right edge (compact range). Every append locks this row,
# which is what makes leaf indexes gapless and the tree fork-free under concurrent writers.
ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("frontier", LargeBinary, nullable=False),
)

# Signed tree heads, as C2SP signed notes.
ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False, index=True),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# -- control ---------------------------------------------------------------------------------------
# One row (id = 1): bumped by every control change so agents holding a copy of the state reload it.
control_epoch = Table(
    "control_epoch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("epoch", BigInteger, nullable=False),
)

# Switches: scoped stops. ``workflow`` NULL applies to every workflow; cleared rows stay as history.
control_switches = Table(
    "control_switches",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("workflow", String(200), nullable=True, index=True),
    Column("target", String(200), nullable=True),
    Column("actor", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("cleared_at", UTCDateTime(), nullable=True),
    Column("cleared_by", String(200), nullable=True),
    Column("cleared_reason", Text, nullable=True),
)

# Token buckets for rate limits and bursts; rows are locked by the decision that debits them.
# ``updated`` is POSIX seconds (UTC by definition): the refill arithmetic needs a number.
control_buckets = Table(
    "control_buckets",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated", Float, nullable=False),
)

# Every decided action that changes things, from decision to outcome, with its undo record.
control_actions = Table(
    "control_actions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workflow", String(200), nullable=False),
    Column("tool", String(200), nullable=False),
    Column("effect", String(10), nullable=False),
    Column("run_id", String(200), nullable=True, index=True),
    Column("actor", String(200), nullable=False),
    Column("outcome", String(10), nullable=False),  # allow | deny | hold | simulate
    Column("rule", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("approval_id", String(40), nullable=True),
    Column("args", JSON, nullable=False),
    Column("versions", JSON, nullable=False),
    Column("confidence", Float, nullable=True),
    Column("decided_at", UTCDateTime(), nullable=False),
    # allowed | denied | held | simulated | approved | rejected | expired | succeeded | failed
    # | rolled_back | rollback_conflict | rollback_failed
    Column("status", String(20), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("result", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("undo", String(200), nullable=True),
    Column("rolled_back_at", UTCDateTime(), nullable=True),
    Column("rolled_back_by", String(200), nullable=True),
    Column("ledger_index", BigInteger, nullable=True),
    Index("ix_control_actions_workflow_finished", "workflow", "finished_at"),
)

# Approval requests for held actions; the arguments live on the action row.
control_approvals = Table(
    "control_approvals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("action_id", String(40), nullable=False, index=True),
    Column("workflow", String(200), nullable=False, index=True),
    Column("tool", String(200), nullable=False),
    Column("requester", String(200), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("context", JSON, nullable=False),
    Column("status", String(20), nullable=False, index=True),  # pending approved rejected expired executed
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("edited_args", JSON, nullable=True),
    Column("executed_at", UTCDateTime(), nullable=True),
)

# Immutable prompt / model / ruleset versions; only the approval columns are ever filled in later.
control_versions = Table(
    "control_versions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workflow", String(200), nullable=False),
    Column("kind", String(20), nullable=False),  # prompt | model | ruleset
    Column("name", String(200), nullable=False),
    Column("version", String(100), nullable=False),
    Column("content", JSON, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("approved_at", UTCDateTime(), nullable=True),
    Column("approved_by", String(200), nullable=True),
    Index("ix_control_versions_key", "workflow", "kind", "name", "version", unique=True),
)

# Label moves (append-only): a label points at the version of its newest move.
control_labels = Table(
    "control_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workflow", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("label", String(40), nullable=False),
    Column("version_id", String(40), nullable=False),
    Column("moved_at", UTCDateTime(), nullable=False),
    Column("moved_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_control_labels_key", "workflow", "kind", "name", "label"),
)

# Event batches delivered by SDKs; a re-delivered batch (after a timeout or from the spool) is skipped.
control_event_batches = Table(
    "control_event_batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("events", Integer, nullable=False),
)

# -- server ----------------------------------------------------------------------------------------
# People who log in to the console. Passwords are scrypt hashes (see andon.server.users).
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(200), nullable=False, unique=True),
    Column("password_hash", String(300), nullable=False),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("disabled_at", UTCDateTime(), nullable=True),
)

# API keys: only the SHA-256 of the key is kept; the key itself is shown once at creation.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("owner", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("workflows", JSON, nullable=True),  # a list of workflow ids; NULL means every workflow
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("revoked_by", String(200), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
)

# Console sessions, server-side: the cookie carries a random token whose SHA-256 is the key here.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# -- incidents -------------------------------------------------------------------------------------
# The current state of each incident; its history is the ledger (incident_change events). ``number``
# gives the id INC-0001; ``open_key`` (workflow|class) is set while the incident is open, so two
# replicas seeing the same signal open one incident, not two.
incidents = Table(
    "incidents",
    metadata,
    Column("number", Integer, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("incident_class", String(100), nullable=False),
    Column("severity", String(100), nullable=False),
    Column("workflow", String(200), nullable=True, index=True),
    Column("state", String(20), nullable=False),
    Column("source", String(20), nullable=False),  # declared | detector
    Column("runbook_revision", Integer, nullable=True),
    Column("summary", Text, nullable=False),
    Column("owners", JSON, nullable=False),
    Column("data_classes", JSON, nullable=False),
    Column("suspect_versions", JSON, nullable=False),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("opened_by", String(200), nullable=False),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("contained_at", UTCDateTime(), nullable=True),
    Column("contained_by", String(200), nullable=True),
    Column("mitigated_at", UTCDateTime(), nullable=True),
    Column("mitigated_by", String(200), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolved_by", String(200), nullable=True),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("closed_by", String(200), nullable=True),
    Column("open_key", String(400), nullable=True, unique=True),
    Column("related", Integer, nullable=True),
)

# Signals grouped onto an incident; one row per signal (its dedup key and the event that fired it).
incident_signals = Table(
    "incident_signals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident", Integer, nullable=False, index=True),
    Column("detector", String(100), nullable=False),
    Column("dedup_key", String(400), nullable=False),
    Column("trigger_index", BigInteger, nullable=False),
    Column("time", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("hint", String(20), nullable=False),
    Column("summary", Text, nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("details", JSON, nullable=False),
    Index("ix_incident_signals_key", "dedup_key", "trigger_index", unique=True),
)

# Containment and recovery taken for an incident: switches pulled, versions restored, rollbacks run.
incident_actions = Table(
    "incident_actions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("incident", Integer, nullable=False, index=True),
    Column("action", String(40), nullable=False),
    Column("automatic", Boolean(), nullable=False),
    Column("target", String(200), nullable=True),
    Column("switch_id", String(40), nullable=True),
    Column("freeze_id", String(40), nullable=True),
    Column("status", String(20), nullable=False),  # applied | skipped | done | failed | cleared
    Column("detail", JSON, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("cleared_at", UTCDateTime(), nullable=True),
    Column("cleared_by", String(200), nullable=True),
)

# Evidence frozen for an incident: an evidence bundle's SHA-256, where it was written, what it covers.
incident_freezes = Table(
    "incident_freezes",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("incident", Integer, nullable=False, index=True),
    Column("purpose", String(40), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("path", Text, nullable=False),
    Column("events", Integer, nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
)

# The first-hour checklist, copied from the incident class when the incident opens.
incident_checklist = Table(
    "incident_checklist",
    metadata,
    Column("incident", Integer, primary_key=True, autoincrement=False),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("text", Text, nullable=False),
    Column("owner_role", String(100), nullable=False),
    Column("owner_contact", String(200), nullable=True),
    Column("within_seconds", Integer, nullable=True),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("done_by", String(200), nullable=True),
)

# Attributed acts that start, qualify and discharge regulatory clocks: trigger | finding | filing.
incident_acts = Table(
    "incident_acts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident", Integer, nullable=False, index=True),
    Column("act", String(10), nullable=False),
    Column("name", String(100), nullable=False),  # trigger / finding name, or the obligation filed
    Column("regime", String(40), nullable=True),
    Column("who", String(200), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("statement", Text, nullable=False),
    Column("reference", String(200), nullable=False),
    Column("disposition", String(20), nullable=False),
    Column("recorded_at", UTCDateTime(), nullable=False),
    Column("recorded_by", String(200), nullable=False),
)

# Escalation steps sent, once per incident and step (the notification's dedup key).
incident_escalations = Table(
    "incident_escalations",
    metadata,
    Column("incident", Integer, primary_key=True, autoincrement=False),
    Column("dedup_key", String(400), primary_key=True),
    Column("clock", String(100), nullable=False),
    Column("contacts", JSON, nullable=False),
    Column("claimed_at", UTCDateTime(), nullable=False),
    Column("delivered", Boolean(), nullable=True),
    Column("report", JSON, nullable=True),
)

# The post-incident review: root cause, sign-off; its action items and evaluation cases below.
incident_reviews = Table(
    "incident_reviews",
    metadata,
    Column("incident", Integer, primary_key=True, autoincrement=False),
    Column("root_cause", String(40), nullable=False),
    Column("summary", Text, nullable=False),
    Column("no_eval_reason", Text, nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
    Column("signed_off_at", UTCDateTime(), nullable=True),
    Column("signed_off_by", String(200), nullable=True),  # the owner's contact id
    Column("signed_off_actor", String(200), nullable=True),
)

incident_review_items = Table(
    "incident_review_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident", Integer, nullable=False, index=True),
    Column("text", Text, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("required", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("done_at", UTCDateTime(), nullable=True),
    Column("done_by", String(200), nullable=True),
)

# Evaluation cases captured from the incident's events: the input, what the output should have been.
incident_eval_cases = Table(
    "incident_eval_cases",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident", Integer, nullable=False, index=True),
    Column("source_index", BigInteger, nullable=True),
    Column("run_id", String(200), nullable=True),
    Column("input", JSON, nullable=True),
    Column("expected", JSON, nullable=False),
    Column("actual", JSON, nullable=True),
    Column("note", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(200), nullable=False),
)
