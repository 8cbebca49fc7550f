"""Canonical JSON: the one byte form of an event that the ledger hashes.

Sorted keys, UTF-8 (no \\u escapes for non-ASCII), no insignificant whitespace, no NaN or infinity.
Verifiers hash the stored bytes as they are; they never need to re-create them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from andon.errors import LedgerError

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))

payload_encoder = _encoder.encode  # str out; the caller encodes to UTF-8 once for the whole record

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def canonical_bytes(value: Any) -> bytes:
    """The canonical JSON bytes of ``value``; raises LedgerError naming the first bad JSON path."""
    try:
        return _encoder.encode(value).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError):
        problem = find_problem(value, "$")
        raise LedgerError(f"event is not canonical JSON: {problem}") from None


def find_problem(value: Any, path: str) -> str:
    """Where and why ``value`` cannot be canonical JSON (only called after encoding failed)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{path} contains a lone surrogate; strings must be valid Unicode"
        return f"{path} cannot be encoded"
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return f"{path} cannot be encoded"
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{path} is {value!r}; NaN and infinity have no JSON form"
        return f"{path} cannot be encoded"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has a non-string key {key!r}; JSON object keys are strings"
            inner = find_problem(item, f"{path}.{key}")
            if not inner.endswith("cannot be encoded"):
                return inner
        return f"{path} cannot be encoded"
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            inner = find_problem(item, f"{path}[{i}]")
            if not inner.endswith("cannot be encoded"):
                return inner
        return f"{path} cannot be encoded"
    return f"{path} is a {type(value).__name__}; use str, int, float, bool, None, list or dict"


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-22T21:54:41.000123Z``."""
    if value.tzinfo is None:
        raise LedgerError("event time is a naive datetime; use datetime.now(UTC)")
    if value.utcoffset():
        value = value.astimezone(UTC)
    # isoformat is several times faster than strftime; it ends in "+00:00" for any UTC-offset zone.
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def encode_text(value: str) -> str:
    """A JSON string literal for ``value``, exactly as the canonical encoder writes it."""
    return _string(value)


_string = json.encoder.encode_basestring  # the C implementation; non-ASCII is kept, as in canonical_bytes


def parse_time(text: str) -> datetime:
    """Inverse of ``format_time``; anything not in exactly its form raises ``ValueError``."""
    # fromisoformat is ~30x faster than strptime (every event read parses one); it also takes forms
    # format_time never writes, so those are left to strptime, which refuses them.
    if len(text) == 27 and text[26] == "Z" and text[19] == "." and text[10] == "T" and text[:26].isascii():
        return datetime.fromisoformat(text[:26]).replace(tzinfo=UTC)
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)
