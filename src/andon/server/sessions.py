"""Console sessions: a server-side table, an HttpOnly SameSite=Strict cookie and a CSRF token.

The cookie holds a random token; the store keeps only its SHA-256, so a copy of the database cannot be
replayed as a login. Each session has its own CSRF token (the synchronizer pattern): pages embed it,
and every unsafe console request must send it back in the ``X-CSRF-Token`` header or a ``csrf_token``
form field. The login form, which has no session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.server.principals import Principal
from andon.server.users import User
from andon.store.tables import console_sessions, users
from andon.store.types import utcnow

SESSION_COOKIE = "andon_session"
LOGIN_CSRF_COOKIE = "andon_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(sent: str | None, expected: str | None) -> bool:
    """Constant-time comparison that refuses empty or missing tokens."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.encode(), expected.encode())


def start_session(conn: Connection, user: User, *, ttl: timedelta) -> str:
    """Create a session for ``user`` and return the cookie value (never stored as such)."""
    token = new_token()
    now = utcnow()
    conn.execute(console_sessions.delete().where(console_sessions.c.expires_at <= now))
    conn.execute(
        console_sessions.insert().values(
            token_hash=_hash(token),
            user_id=user.id,
            csrf_token=new_token(),
            created_at=now,
            expires_at=now + ttl,
        )
    )
    return token


def load_session(conn: Connection, token: str) -> Principal | None:
    """The logged-in user behind a cookie value, or None if unknown, expired or the user is disabled."""
    row = conn.execute(
        sa.select(
            users.c.id,
            users.c.username,
            users.c.role,
            users.c.disabled_at,
            console_sessions.c.csrf_token,
            console_sessions.c.expires_at,
        )
        .join(users, users.c.id == console_sessions.c.user_id)
        .where(console_sessions.c.token_hash == _hash(token))
    ).first()
    if row is None or row.disabled_at is not None or row.expires_at <= utcnow():
        return None
    return Principal(
        kind="user",
        id=str(row.id),
        actor=row.username,
        role=row.role,
        workflows=None,
        expires_at=row.expires_at,
        csrf_token=row.csrf_token,
    )


def end_session(conn: Connection, token: str) -> None:
    conn.execute(console_sessions.delete().where(console_sessions.c.token_hash == _hash(token)))
