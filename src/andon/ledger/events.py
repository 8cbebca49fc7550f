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
from andon.ledger.canonical import encode_text, find_problem, format_time, payload_encoder

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
        return encode_record(
            self, index, self.payload if payload is None else payload, format_time(self.time)
        )


def _text_or_null(value: str | None) -> str:
    return "null" if value is None else encode_text(value)


def encode_record(event: Event, index: int, payload: Mapping[str, Any], time_text: str) -> bytes:
    """``canonical_bytes(event.record(index, payload))``, written out directly because it is the hot path."""
    before, after = record_parts(event, payload, time_text)
    return before + b"%d" % index + after


def record_parts(event: Event, payload: Mapping[str, Any], time_text: str) -> tuple[bytes, bytes]:
    """The canonical record's bytes before and after its index, so they can be made before the index is known.

    The keys are fixed and already in sorted order, so only the payload goes through the encoder.
    """
    try:
        body = payload_encoder(payload)
    except (TypeError, ValueError, UnicodeEncodeError):
        raise LedgerError(f"event is not canonical JSON: {find_problem(payload, '$.payload')}") from None
    before = f'{{"actor":{encode_text(event.actor)},"index":'
    after = (
        f',"kind":"{event.kind}","payload":{body},"run_id":{_text_or_null(event.run_id)},'
        f'"time":"{time_text}","workflow":{_text_or_null(event.workflow)}}}'
    )
    try:
        return before.encode("utf-8"), after.encode("utf-8")
    except UnicodeEncodeError:
        where = find_problem(payload, "$.payload")
        if "surrogate" not in where:
            where = "the actor, workflow or run id contains a lone surrogate"
        raise LedgerError(f"event is not canonical JSON: {where}") from None


def incident_of(payload: Mapping[str, Any]) -> str | None:
    """The incident an event belongs to, when its payload names one (``incident_id``)."""
    value = payload.get("incident_id")
    return value if isinstance(value, str) and len(value) <= _MAX_NAME else None
