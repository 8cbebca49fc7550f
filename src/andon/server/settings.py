"""Server settings, read from ``ANDON_*`` environment variables; every one has a working default.

``settings_table()`` renders the table in docs/server.md; a test keeps the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from andon.errors import ConfigError

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Setting:
    env: str
    default: str
    meaning: str


SETTINGS: dict[str, Setting] = {
    "database_url": Setting(
        "ANDON_DATABASE_URL",
        "sqlite:///$ANDON_DATA_DIR/andon.db",
        "the store; `postgresql://user@host/db` for several server replicas",
    ),
    "database_schema": Setting(
        "ANDON_DATABASE_SCHEMA", "public", "PostgreSQL schema for Andon's tables (sets `search_path`)"
    ),
    "host": Setting("ANDON_HOST", "127.0.0.1", "address `andon serve` listens on"),
    "port": Setting("ANDON_PORT", "8787", "port `andon serve` listens on"),
    "max_body_bytes": Setting(
        "ANDON_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES), "largest request body accepted; larger gets 413"
    ),
    "session_hours": Setting("ANDON_SESSION_HOURS", "12", "how long a console login lasts"),
    "key_cache_seconds": Setting(
        "ANDON_KEY_CACHE_SECONDS",
        "1",
        "how long a server process trusts an API key it verified before reading the store again; "
        "a key revoked elsewhere still works in this process for at most this long (`0`: read every time)",
    ),
    "secure_cookies": Setting(
        "ANDON_SECURE_COOKIES", "false", "mark console cookies `Secure`; set `true` when served over HTTPS"
    ),
    "metrics_public": Setting(
        "ANDON_METRICS_PUBLIC", "false", "serve `/metrics` without a key (else the `viewer` role is needed)"
    ),
}


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; use true or false")


def _seconds(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise ConfigError(f"{name}={value:g} is out of range; use 0 to 3600 seconds")
    return value


def _int(name: str, raw: str, *, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is too small; use at least {minimum}")
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the server reads at start-up."""

    database_url: str | None = None  # None: andon.store's default (SQLite in the data directory)
    database_schema: str | None = None
    host: str = "127.0.0.1"
    port: int = 8787
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    session_hours: int = 12
    key_cache_seconds: float = 1.0
    secure_cookies: bool = False
    metrics_public: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); keyword overrides win (CLI options)."""
        env = os.environ if environ is None else environ

        def raw(field: str) -> str | None:
            value = env.get(SETTINGS[field].env)
            return value if value not in (None, "") else None

        values: dict[str, Any] = {}
        if (url := raw("database_url")) is not None:
            values["database_url"] = url
        if (schema := raw("database_schema")) is not None:
            values["database_schema"] = schema
        if (host := raw("host")) is not None:
            values["host"] = host
        for field, minimum in (("port", 1), ("max_body_bytes", 1), ("session_hours", 1)):
            if (text := raw(field)) is not None:
                values[field] = _int(SETTINGS[field].env, text, minimum=minimum)
        if (text := raw("key_cache_seconds")) is not None:
            values["key_cache_seconds"] = _seconds(SETTINGS["key_cache_seconds"].env, text)
        for field in ("secure_cookies", "metrics_public"):
            if (text := raw(field)) is not None:
                values[field] = _bool(SETTINGS[field].env, text)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def settings_table() -> str:
    """The Markdown table of settings, as printed in docs/server.md."""
    lines = ["| setting | default | meaning |", "|---|---|---|"]
    for field in fields(Settings):
        setting = SETTINGS[field.name]
        lines.append(f"| `{setting.env}` | `{setting.default}` | {setting.meaning} |")
    return "\n".join(lines)
