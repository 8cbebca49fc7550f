"""Appending to the ledger and reading it back.

``append`` runs inside the caller's transaction: the control plane commits a decision, its rate
reservation and the ledger event together, or none of them. It locks the head row (PostgreSQL:
``SELECT ... FOR UPDATE``; SQLite: the write lock its BEGIN IMMEDIATE already took), so concurrent
writers queue and leaf indexes stay gapless. Call it last in a transaction to hold that lock briefly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.ledger import merkle
from andon.ledger.canonical import format_time, parse_time
from andon.ledger.events import Event, incident_of, record_parts
from andon.ledger.tree import STORED_FROM_LEVEL, read_head
from andon.store.dialect import bulk_insert, driver_sql
from andon.store.tables import ledger_events

if TYPE_CHECKING:
    from andon.ledger.redact import Redactor

_EVENT_COLUMNS = ("idx", "leaf_hash", "kind", "actor", "workflow", "run_id", "incident_id", "time", "data")
_UPDATE_HEAD = "UPDATE ledger_head SET size = ?, frontier = ? WHERE id = 1"
_INSERT_CHUNK = 5000  # rows per executemany: large enough to amortise, small enough for memory


def append(conn: Connection, events: Sequence[Event], *, redactor: Redactor | None = None) -> list[int]:
    """Append ``events`` in order and return their leaf indexes (consecutive, gapless).

    Payloads are redacted first (when a redactor is given), then each event's canonical record is
    hashed as a leaf; interior nodes of subtrees completed by this batch are stored alongside.
    Nothing is visible to others until the caller's transaction commits.
    """
    if not events:
        return []
    # Everything that does not depend on the leaf index happens before the lock is taken, so
    # concurrent writers (on PostgreSQL) hold it only for hashing and inserting.
    if redactor is not None:
        payloads = [redactor.redact(e.payload) for e in events]
    else:
        payloads = [e.payload for e in events]
    times = [format_time(e.time) for e in events]
    parts = [record_parts(e, p, t) for e, p, t in zip(events, payloads, times, strict=True)]
    incidents = [incident_of(p) for p in payloads]
    size, frontier = read_head(conn, lock=True)
    datas = [before + b"%d" % (size + i) + after for i, (before, after) in enumerate(parts)]
    sha = hashlib.sha256
    hashes = [sha(b"\x00" + d).digest() for d in datas]
    rows = [
        (size + i, h, e.kind, e.actor, e.workflow, e.run_id, incident, t, d)
        for i, (h, e, incident, t, d) in enumerate(zip(hashes, events, incidents, times, datas, strict=True))
    ]
    nodes: list[tuple[int, int, bytes]] = []
    compact = merkle.CompactRange(
        size=size,
        hashes=frontier,
        on_node=lambda level, position, h: nodes.append((level, position, h)),
        report_from=STORED_FROM_LEVEL,
    )
    compact.append_leaves(hashes)
    for i in range(0, len(rows), _INSERT_CHUNK):
        bulk_insert(conn, "ledger_events", _EVENT_COLUMNS, rows[i : i + _INSERT_CHUNK])
    bulk_insert(conn, "ledger_nodes", ("level", "position", "hash"), nodes)
    conn.exec_driver_sql(driver_sql(conn, _UPDATE_HEAD), (compact.size, b"".join(compact.hashes)))
    return list(range(size, compact.size))


def tree_size(conn: Connection) -> int:
    """How many events the ledger holds (as committed, or as this transaction sees it)."""
    return read_head(conn)[0]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the ledger holds it: its leaf index and hash, canonical bytes and parsed record."""

    index: int
    leaf_hash: bytes
    data: bytes
    kind: str
    actor: str
    workflow: str | None
    run_id: str | None
    time: datetime
    payload: dict[str, Any]

    @classmethod
    def from_row(cls, row: Any) -> StoredEvent:
        data = bytes(row.data)
        record = json.loads(data)
        return cls(
            index=int(row.idx),
            leaf_hash=bytes(row.leaf_hash),
            data=data,
            kind=record["kind"],
            actor=record["actor"],
            workflow=record["workflow"],
            run_id=record["run_id"],
            time=parse_time(record["time"]),
            payload=record["payload"],
        )


def read_events(
    conn: Connection,
    *,
    workflow: str | None = None,
    run_id: str | None = None,
    kinds: Iterable[str] | None = None,
    incident_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_index: int | None = None,
    limit: int | None = None,
) -> list[StoredEvent]:
    """Stored events in index order, filtered by every criterion given.

    ``since`` is inclusive and ``until`` exclusive; ``after_index`` reads only later leaves, which is
    how a follower (a detector, a replica) tails the ledger.
    """
    query = select_events(
        workflow=workflow,
        run_id=run_id,
        kinds=kinds,
        incident_id=incident_id,
        since=since,
        until=until,
        after_index=after_index,
        limit=limit,
    )
    return [StoredEvent.from_row(row) for row in conn.execute(query)]


def select_events(
    *,
    workflow: str | None = None,
    run_id: str | None = None,
    kinds: Iterable[str] | None = None,
    incident_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after_index: int | None = None,
    limit: int | None = None,
) -> sa.Select[tuple[int, bytes, bytes]]:
    """The query behind ``read_events``: columns ``idx, leaf_hash, data`` in index order."""
    c = ledger_events.c
    query = sa.select(c.idx, c.leaf_hash, c.data).order_by(c.idx)
    if workflow is not None:
        query = query.where(c.workflow == workflow)
    if run_id is not None:
        query = query.where(c.run_id == run_id)
    if kinds is not None:
        query = query.where(c.kind.in_(list(kinds)))
    if incident_id is not None:
        query = query.where(c.incident_id == incident_id)
    if since is not None:
        query = query.where(c.time >= since)
    if until is not None:
        query = query.where(c.time < until)
    if after_index is not None:
        query = query.where(c.idx > after_index)
    if limit is not None:
        query = query.limit(limit)
    return query


def read_event(conn: Connection, index: int) -> StoredEvent | None:
    """The event at leaf ``index``, or None when there is none."""
    c = ledger_events.c
    row = conn.execute(sa.select(c.idx, c.leaf_hash, c.data).where(c.idx == index)).one_or_none()
    return None if row is None else StoredEvent.from_row(row)
