"""All tables, as SQLAlchemy Core. Migrations in ``store/migrations`` must match these."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, Text

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
