"""What the ledger routes and the audit explorer share: pages of events, proofs, the ledger key.

Pages are keyset pages on the leaf index (never OFFSET, never COUNT(*)): the next page starts below
(newest first) or above (oldest first) the last index shown, so a page costs the same at index 10 and
at index 1,000,000. The filters use the ``(column, idx)`` indexes of migration 0005.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.ledger import merkle
from andon.ledger.checkpoint import CheckpointError, latest_checkpoint, open_note, parse_note
from andon.ledger.keys import SIGNING_KEY_FILE, Signer, Verifier, load_signer, signing_key
from andon.ledger.log import StoredEvent, select_events
from andon.ledger.tree import StoredTree
from andon.store import data_dir
from andon.store.tables import ledger_events

Order = Literal["newest", "oldest"]
MAX_PAGE = 1000
SUMMARY_CHARS = 120


def signer() -> Signer:
    """The ledger signing key in the data directory, created on first use."""
    return signing_key(data_dir())


def verifier() -> Verifier | None:
    """The ledger's public key, or None while no key exists (reads never create one)."""
    path = data_dir() / SIGNING_KEY_FILE
    return load_signer(path).verifier if path.exists() else None


@dataclass(frozen=True, slots=True, kw_only=True)
class EventQuery:
    """Which events a page holds; every given criterion must match."""

    workflow: str | None = None
    workflows: frozenset[str] | None = None  # the caller's scope; None: every workflow
    run_id: str | None = None
    kinds: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    after: int | None = None  # only indexes above this
    before: int | None = None  # only indexes below this
    order: Order = "newest"


@dataclass(frozen=True, slots=True)
class Page:
    events: list[StoredEvent]
    next_cursor: int | None  # pass back as ``cursor`` for the next page; None on the last page


def page_events(conn: Connection, query: EventQuery, *, limit: int, cursor: int | None = None) -> Page:
    """One page of events in ``query.order``, continuing after ``cursor`` (an index of the last page)."""
    c = ledger_events.c
    after, before = query.after, query.before
    if cursor is not None:
        if query.order == "newest":
            before = cursor if before is None else min(before, cursor)
        else:
            after = cursor if after is None else max(after, cursor)
    if query.since is not None or query.until is not None:
        # Every event in the time range lies between the lowest and highest leaf index found in it
        # (read from the time index), so the page scans that span of the log, not all of it.
        # "+ 0": PostgreSQL would otherwise answer min and max by walking the primary key from each
        # end until a row falls in the range, half the log for a window in the middle.
        span = sa.select(sa.func.min(c.idx + 0), sa.func.max(c.idx + 0))
        if query.since is not None:
            span = span.where(c.time >= query.since)
        if query.until is not None:
            span = span.where(c.time < query.until)
        low, high = conn.execute(span).one()
        if low is None:
            return Page(events=[], next_cursor=None)
        after = low - 1 if after is None else max(after, low - 1)
        before = high + 1 if before is None else min(before, high + 1)
    select = select_events(
        workflow=query.workflow,
        run_id=query.run_id,
        kinds=query.kinds or None,
        since=query.since,
        until=query.until,
        after_index=after,
        limit=limit + 1,  # one more than shown says whether there is a next page, without counting
    )
    if before is not None:
        select = select.where(c.idx < before)
    if query.workflows is not None and query.workflow is None:
        select = select.where(c.workflow.in_(sorted(query.workflows)))
    if query.order == "newest":
        select = select.order_by(None).order_by(c.idx.desc())
    events = [StoredEvent.from_row(row) for row in conn.execute(select)]
    more = len(events) > limit
    events = events[:limit]
    return Page(events=events, next_cursor=events[-1].index if more and events else None)


def event_json(event: StoredEvent, *, canonical: bool = False) -> dict[str, Any]:
    """An event as the API shows it; ``canonical`` adds its exact leaf bytes as text."""
    out: dict[str, Any] = {
        "index": event.index,
        "kind": event.kind,
        "time": event.time.isoformat(),
        "actor": event.actor,
        "workflow": event.workflow,
        "run_id": event.run_id,
        "payload": event.payload,
        "leaf_hash": event.leaf_hash.hex(),
    }
    if canonical:
        out["canonical"] = event.data.decode("utf-8")
    return out


def summary(payload: Mapping[str, Any], width: int = SUMMARY_CHARS) -> str:
    """A one-line gist of a payload for tables: ``key=value`` pairs, cut at ``width`` characters."""
    parts = []
    for key, value in payload.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
        parts.append(f"{key}={text}")
    line = " ".join(parts).replace("\n", " ")
    return line if len(line) <= width else line[: width - 1] + "…"


def inclusion(conn: Connection, event: StoredEvent, trusted: Verifier | None) -> dict[str, Any]:
    """The event's inclusion proof against the latest checkpoint, checked here and now.

    ``included`` says the event's bytes hash into the checkpoint's root through the proof;
    ``signed`` says the checkpoint's signature verifies with the ledger key (None: no key to check).
    """
    stored = latest_checkpoint(conn)
    if stored is None or stored.size <= event.index:
        covered = (
            "no checkpoint yet" if stored is None else f"the latest checkpoint covers {stored.size} events"
        )
        return {
            "covered": False,
            "message": f"{covered}; event {event.index} will be in the next one (POST /v1/ledger/checkpoint)",
        }
    signed: bool | None = None
    problem = None
    try:
        if trusted is not None:
            open_note(stored.note, trusted)
            signed = True
        else:
            parse_note(stored.note)
    except CheckpointError as exc:
        signed, problem = False, str(exc)
    hashes = StoredTree(conn).inclusion_proof(event.index, stored.size)
    leaf = merkle.leaf_hash(event.data)
    included = leaf == event.leaf_hash and merkle.verify_inclusion(
        leaf_hash=leaf, index=event.index, size=stored.size, proof=hashes, root=stored.root
    )
    if not included:
        problem = (
            f"event {event.index} does not verify against the checkpoint of size {stored.size}; "
            "run andon verify"
        )
    return {
        "covered": True,
        "included": included,
        "signed": signed,
        "problem": problem,
        "leaf_hash": leaf.hex(),
        "tree_size": stored.size,
        "root": base64.b64encode(stored.root).decode("ascii"),
        "hashes": [base64.b64encode(h).decode("ascii") for h in hashes],
        "checkpoint": checkpoint_json(stored.note, stored.size, stored.key_id, stored.created_at),
    }


def checkpoint_json(note: str, size: int, key_id: str, created_at: datetime) -> dict[str, Any]:
    return {"size": size, "key_id": key_id, "created_at": created_at.isoformat(), "note": note}


def kinds_of(values: Iterable[str]) -> tuple[str, ...]:
    """Kinds given as repeated or comma-separated parameters, blanks dropped, order kept."""
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return tuple(dict.fromkeys(out))
