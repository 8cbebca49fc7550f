"""All tables, as SQLAlchemy Core. Migrations in ``store/migrations`` must match these."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

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
    Column("workflow", String(200), nullable=True, index=True),
    Column("run_id", String(200), nullable=True, index=True),
    Column("incident_id", String(200), nullable=True, index=True),
    Column("time", UTCDateTime(), nullable=False, index=True),
    Column("data", LargeBinary, nullable=False),
)

# Interior nodes of complete subtrees at level >= 8 (256 leaves and up): a proof reads O(log n)
# of these plus at most a few runs of 256 leaf hashes. Level 0 hashes live in ledger_events.
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
