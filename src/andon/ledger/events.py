"""Ledger events: what one entry holds, and its canonical record.

An event's leaf in the Merkle tree is the canonical JSON of its *record*::

    {"actor": ..., "index": N, "kind": ..., "payload": {...}, "run_id": ... | null,
     "time": "2026-11-22T21:54:41.000123Z", "workflow": ... | null}

The record carries its own leaf index, so a row moved to another position no longer matches its
place in the tree and verification can say *reordered* or *inserted* rather than just *changed*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from andon.errors import LedgerError
from andon.ledger.canonical import canonical_bytes, format_time

KINDS: tuple[str, ...] = (
    "model_call",
    "retrieval",
    "decision",
    "action_outcome",
    "approval",
    "human_override",
    "memory_change",
    "control_change",
    "incident_change",
    "drill_marker",
    "note",
)

# The payload fields each kind is expected to carry (documentation for writers and readers;
# not enforced, because a partial record is better than a refused one during an incident).
PAYLOAD_FIELDS: dict[str, tuple[str, ...]] = {
    "model_call": ("prompt_version", "model", "input", "output", "confidence"),
    "retrieval": ("source", "query", "documents"),
    "decision": ("action_id", "tool", "decision", "reason", "rule"),
    "action_outcome": ("action_id", "tool", "result", "error", "retry_count"),
    "approval": ("approval_id", "action_id", "approver", "decision", "reason"),
    "human_override": ("action_id", "who", "what", "why"),
    "memory_change": ("store", "key", "before", "after"),
    "control_change": ("switch", "scope", "who", "why", "expires_at"),
    "incident_change": ("incident_id", "field", "before", "after"),
    "drill_marker": ("drill_id", "scenario", "phase"),
    "note": ("text",),
}

_MAX_NAME = 200  # matches the width of the indexed columns


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One ledger entry as a writer proposes it; ``append`` gives it a leaf index."""

    kind: str
    actor: str
    payload: dict[str, Any]
    workflow: str | None = None
    run_id: str | None = None
    time: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LedgerError(f"event kind {self.kind!r} is unknown; use one of: {', '.join(KINDS)}")
        if not isinstance(self.actor, str) or not self.actor:
            raise LedgerError("event actor must be a non-empty string (who or what caused the event)")
        if not isinstance(self.payload, Mapping):
            raise LedgerError(f"event payload must be a dict, not {type(self.payload).__name__}")
        for name in ("actor", "workflow", "run_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or len(value) > _MAX_NAME):
                raise LedgerError(f"event {name} must be a string of at most {_MAX_NAME} characters")
        if not isinstance(self.time, datetime) or self.time.tzinfo is None:
            raise LedgerError("event time must be a timezone-aware datetime; use datetime.now(UTC)")

    def record(self, index: int, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The dict whose canonical JSON is this event's leaf at ``index`` (optionally a redacted payload)."""
        return {
            "actor": self.actor,
            "index": index,
            "kind": self.kind,
            "payload": self.payload if payload is None else payload,
            "run_id": self.run_id,
            "time": format_time(self.time),
            "workflow": self.workflow,
        }

    def canonical(self, index: int, payload: Mapping[str, Any] | None = None) -> bytes:
        """Canonical JSON bytes of ``record(index)``."""
        return canonical_bytes(self.record(index, payload))


def incident_of(payload: Mapping[str, Any]) -> str | None:
    """The incident an event belongs to, when its payload names one (``incident_id``)."""
    value = payload.get("incident_id")
    return value if isinstance(value, str) and len(value) <= _MAX_NAME else None
