"""API keys: created as ``andon_<random>`` and shown once, stored as a SHA-256 hash, revocable, expiring.

Why SHA-256 and not scrypt (which passwords get): a key carries 256 random bits, so guessing from a
stolen hash is hopeless however fast the hash is; a slow hash would only add tens of milliseconds to
every API call (decisions are on the agent's hot path) and would rule out finding the key by an
indexed lookup of its hash.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.errors import ConfigError
from andon.server.principals import ROLES, Principal, Role
from andon.store.tables import api_keys
from andon.store.types import utcnow

log = logging.getLogger("andon.server.apikeys")

PREFIX = "andon_"
# Touch last_used_at at most this often, so that a busy agent does not turn every call into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a presented key was refused; safe to show to the caller."""

    reason: str


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly created key: ``secret`` is the only copy there will ever be."""

    secret: str
    record: dict[str, Any]


def _record(row: Any) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": row.id,
        "name": row.name,
        "owner": row.owner,
        "role": row.role,
        "workflows": row.workflows,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
        "revoked_by": row.revoked_by,
        "last_used_at": iso(row.last_used_at),
    }


_PUBLIC = [c for c in api_keys.c if c.name != "key_hash"]


def create_key(
    conn: Connection,
    *,
    name: str,
    role: str,
    created_by: str,
    owner: str | None = None,
    workflows: list[str] | None = None,
    expires_at: datetime | None = None,
) -> NewKey:
    """Create a key. Agent keys must name their workflows; ``owner`` defaults to ``created_by``."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if role == "agent" and not workflows:
        raise ConfigError("an agent key must be scoped to at least one workflow; name the ones it serves")
    if not name.strip():
        raise ConfigError("an API key needs a non-empty name saying what it is for")
    if expires_at is not None and expires_at <= utcnow():
        raise ConfigError(f"expiry {expires_at.isoformat()} is in the past")
    secret = PREFIX + secrets.token_urlsafe(32)
    key_id = "key_" + secrets.token_hex(8)
    conn.execute(
        api_keys.insert().values(
            id=key_id,
            key_hash=hash_key(secret),
            name=name.strip(),
            owner=(owner or created_by).strip(),
            role=role,
            workflows=sorted(set(workflows)) if workflows else None,
            created_at=utcnow(),
            created_by=created_by,
            expires_at=expires_at,
        )
    )
    log.info("created API key %s (role %s) by %s", key_id, role, created_by)
    record = get_key(conn, key_id)
    assert record is not None
    return NewKey(secret=secret, record=record)


def get_key(conn: Connection, key_id: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(*_PUBLIC).where(api_keys.c.id == key_id)).first()
    return None if row is None else _record(row)


def list_keys(conn: Connection, *, include_revoked: bool = True) -> list[dict[str, Any]]:
    query = sa.select(*_PUBLIC).order_by(api_keys.c.created_at, api_keys.c.id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return [_record(row) for row in conn.execute(query)]


def revoke_key(conn: Connection, key_id: str, *, revoked_by: str) -> dict[str, Any] | None:
    """Revoke a key (idempotent: the first revocation's time and actor stay). None if there is no such key."""
    conn.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_by=revoked_by)
    )
    record = get_key(conn, key_id)
    if record is not None:
        log.info("revoked API key %s by %s", key_id, revoked_by)
    return record


def authenticate_key(conn: Connection, presented: str) -> Principal | Rejection:
    """The principal behind ``presented``, or why it is refused (unknown, revoked, expired)."""
    found = lookup_key(conn, presented)
    if isinstance(found, tuple):
        principal, stale = found
        if stale:
            touch_key(conn, principal.id)
        return principal
    return found


def touch_key(conn: Connection, key_id: str) -> None:
    """Record that the key was used now."""
    conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(last_used_at=utcnow()))


def lookup_key(conn: Connection, presented: str) -> tuple[Principal, bool] | Rejection:
    """Like ``authenticate_key`` but read-only: the principal and whether ``last_used_at`` is due an update.

    The server checks keys on a read-only connection (on SQLite it takes no write lock, so requests
    never queue behind the writer for it) and touches the key in a short write of its own when due.
    """
    if not presented.startswith(PREFIX):
        return Rejection(f"API keys start with {PREFIX!r}; this is not an Andon API key")
    row = conn.execute(sa.select(*_PUBLIC).where(api_keys.c.key_hash == hash_key(presented))).first()
    if row is None:
        return Rejection("unknown API key")
    now = utcnow()
    if row.revoked_at is not None:
        return Rejection(f"API key {row.id} was revoked at {row.revoked_at.isoformat()}")
    if row.expires_at is not None and row.expires_at <= now:
        return Rejection(f"API key {row.id} expired at {row.expires_at.isoformat()}")
    stale = row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
    role: Role = row.role
    principal = Principal(
        kind="key",
        id=row.id,
        actor=row.owner,
        role=role,
        workflows=None if row.workflows is None else frozenset(row.workflows),
        expires_at=row.expires_at,
    )
    return principal, stale
