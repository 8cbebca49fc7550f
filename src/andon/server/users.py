"""Console users: scrypt password hashes, creation, verification and the first-run admin.

Passwords are low-entropy secrets that people choose, so they get a slow, salted, memory-hard hash
(``hashlib.scrypt``, n=2**14, r=8, p=1): about 16 MiB and tens of milliseconds per guess.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.errors import ConfigError
from andon.server.principals import HUMAN_ROLES, HumanRole
from andon.store.tables import users
from andon.store.types import utcnow

log = logging.getLogger("andon.server.users")

_N, _R, _P, _LEN = 2**14, 8, 1, 32
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_LEN)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a ``hash_password`` result."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except ValueError:
        return False
    return hmac.compare_digest(got, expected)


# Verifying against this when the user does not exist keeps "no such user" as slow as "wrong password".
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    role: HumanRole


def create_user(conn: Connection, *, username: str, password: str, role: str, created_by: str) -> User:
    """Add a console user; ConfigError when the name is taken, the role unknown or the password short."""
    username = username.strip()
    if not username:
        raise ConfigError("a user needs a non-empty username")
    if role not in HUMAN_ROLES:
        raise ConfigError(f"role {role!r} cannot log in to the console; use one of {', '.join(HUMAN_ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ConfigError(
            f"the password for {username!r} is too short; use at least {MIN_PASSWORD} characters"
        )
    taken = conn.execute(sa.select(users.c.id).where(users.c.username == username)).first()
    if taken is not None:
        raise ConfigError(f"user {username!r} already exists")
    new_id = conn.execute(
        users.insert()
        .values(
            username=username,
            password_hash=hash_password(password),
            role=role,
            created_at=utcnow(),
            created_by=created_by,
        )
        .returning(users.c.id)
    ).scalar_one()
    log.info("created console user %s (role %s) by %s", username, role, created_by)
    return User(id=new_id, username=username, role=role)


def authenticate_user(conn: Connection, *, username: str, password: str) -> User | None:
    """The user when the password matches and the account is enabled, else None."""
    row = conn.execute(
        sa.select(
            users.c.id, users.c.username, users.c.role, users.c.password_hash, users.c.disabled_at
        ).where(users.c.username == username.strip())
    ).first()
    if row is None:
        verify_password(password, _DUMMY_HASH)
        return None
    if not verify_password(password, row.password_hash) or row.disabled_at is not None:
        return None
    return User(id=row.id, username=row.username, role=row.role)


def count_users(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())


def bootstrap_admin(conn: Connection, *, username: str = "admin") -> str | None:
    """On a store with no users, create ``username`` as admin and return its generated password once.

    Returns None when any user exists already. The caller shows the password to the person starting
    the server; it is never logged.
    """
    if count_users(conn):
        return None
    password = secrets.token_urlsafe(15)
    create_user(conn, username=username, password=password, role="admin", created_by="first-run bootstrap")
    return password
