"""The webhook signature: ``X-Andon-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>``.

The MAC is HMAC-SHA256 with the shared secret over ``f"{t}."`` followed by the exact request body. The
timestamp is signed with the body so a captured request cannot be replayed later: a receiver rejects
signatures older than its tolerance (five minutes by default). Several ``v1=`` values may appear while a
secret is being rotated; one match is enough.

A receiver in any language::

    t, v1 = parse the header
    expected = hex(HMAC_SHA256(secret, t + "." + raw_body))
    accept if constant_time_equal(expected, v1) and |now - t| <= 300
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from andon.notify.base import NotifyError, Secret

SIGNATURE_HEADER = "X-Andon-Signature"
DEFAULT_TOLERANCE = timedelta(minutes=5)


class SignatureInvalid(NotifyError):
    """A webhook signature is missing, malformed, stale, or does not match the body."""


def _key(secret: str | bytes | Secret) -> bytes:
    if isinstance(secret, Secret):
        secret = secret.reveal()
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def compute_signature(secret: str | bytes | Secret, *, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}." + body``."""
    message = f"{timestamp}.".encode("ascii") + body
    return hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def sign(secret: str | bytes | Secret, *, timestamp: int, body: bytes) -> str:
    """The header value ``t=<timestamp>,v1=<hex>``."""
    return f"t={timestamp},v1={compute_signature(secret, timestamp=timestamp, body=body)}"


def verify_signature(
    secret: str | bytes | Secret,
    *,
    header: str | None,
    body: bytes,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> int:
    """Check an ``X-Andon-Signature`` header against the raw body; returns the signed timestamp.

    Raises SignatureInvalid saying which check failed (never echoing the expected value).
    """
    if not header:
        raise SignatureInvalid(f"no {SIGNATURE_HEADER} header; the request is not from Andon or was altered")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} must look like 't=<unix seconds>,v1=<hex>'")
    if now.tzinfo is None:
        raise SignatureInvalid("now must be timezone-aware (UTC)")
    age = abs(now.timestamp() - timestamp)
    if age > tolerance.total_seconds():
        raise SignatureInvalid(
            f"signature timestamp is {int(age)}s away from now (tolerance {int(tolerance.total_seconds())}s);"
            " reject as a possible replay, or check the receiver's clock"
        )
    expected = compute_signature(secret, timestamp=timestamp, body=body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise SignatureInvalid("signature does not match the body; check the shared secret")
    return timestamp
