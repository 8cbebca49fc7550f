"""``andon verify``: recompute the tree from the stored leaves and check everything against it.

Checked, in one streaming pass: every leaf's bytes hash to its stored leaf hash; leaf indexes run
0, 1, 2... without gaps; each record names its own index (so a moved row is caught as *reordered*
or *inserted*); the recomputed tree matches the stored interior nodes, the head row and every
checkpoint; every checkpoint is signed by the ledger key. The first problem in the leaves names
the first bad index; checkpoint problems are all listed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.ledger import merkle
from andon.ledger.checkpoint import Checkpoint, CheckpointError, open_note, parse_note, read_checkpoints
from andon.ledger.keys import Verifier
from andon.ledger.tree import STORED_FROM_LEVEL, read_head
from andon.store.dialect import fetch_rows
from andon.store.tables import ledger_events, ledger_nodes

CHUNK = 50_000
# Stored nodes are compared from 256 leaves up: enough to locate a rewritten leaf (with the
# checkpoints), while the comparison table stays at n/128 entries even for huge logs.
_COMPARE_FROM_LEVEL = max(8, STORED_FROM_LEVEL)
_CHUNK_QUERY = "SELECT idx, leaf_hash, data FROM ledger_events WHERE idx >= ? ORDER BY idx LIMIT ?"
_RANGE_QUERY = "SELECT leaf_hash, data FROM ledger_events WHERE idx >= ? AND idx < ? ORDER BY idx"

# What verify can say is wrong; each problem carries one of these.
KINDS = (
    "edited",  # a leaf's bytes or hash changed
    "missing",  # a leaf was deleted
    "inserted",  # a leaf was added
    "reordered",  # leaves changed places
    "truncated",  # the tail was cut off after a checkpoint or the head
    "bad_signature",  # a checkpoint's signature does not verify
    "key_replaced",  # a checkpoint is signed by another key than the ledger key
    "inconsistent",  # checkpoints disagree with each other
    "bad_checkpoint",  # a checkpoint note is malformed or its row disagrees with its note
)


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    index: int | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "index": self.index, "message": self.message}


@dataclass(slots=True)
class VerifyReport:
    """What ``verify_ledger`` found."""

    size: int = 0  # leaves according to the head row
    leaves: int = 0  # leaves checked
    checkpoints: int = 0
    root: bytes = merkle.EMPTY_ROOT  # the recomputed root over the leaves checked
    key_id: str | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        indexes = [p.index for p in self.problems if p.index is not None]
        return min(indexes) if indexes else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "leaves": self.leaves,
            "checkpoints": self.checkpoints,
            "root": self.root.hex(),
            "key_id": self.key_id,
            "first_bad_index": self.first_bad_index,
            "problems": [p.as_dict() for p in self.problems],
        }


def _raw(value: Any) -> bytes:
    """Column bytes as bytes; an edit through SQLite's text functions may have stored text instead."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


def _embedded_index(data: bytes) -> int | None:
    """The top-level ``index`` of a canonical record, read without parsing the JSON.

    Keys are sorted, so ``actor`` (a string) comes first and the first ``,"index":`` is the
    top-level one: inside a JSON string every quote is escaped, so ``,"`` cannot occur there.
    """
    start = data.find(b',"index":')
    if start < 0:
        return None
    end = data.find(b",", start + 9)
    try:
        return int(data[start + 9 : end])
    except ValueError:
        return None


def verify_ledger(
    conn: Connection,
    *,
    verifier: Verifier | None,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
) -> VerifyReport:
    """Check the whole ledger; ``verifier`` is the trusted key (None skips signature checks)."""
    size, frontier = read_head(conn)
    report = VerifyReport(size=size, key_id=verifier.key_id.hex() if verifier else None)
    targets = _checkpoints(conn, verifier, report)
    recomputed: dict[tuple[int, int], bytes] = {}
    compact = merkle.CompactRange(
        on_node=lambda level, pos, h: recomputed.__setitem__((level, pos), h), report_from=_COMPARE_FROM_LEVEL
    )
    roots: dict[int, bytes] = {}
    stops = sorted({s for s in targets if s > 0} | {size})
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="andon-verify-read") as reader:
        failed = _scan_leaves(conn, reader, compact, stops, roots, report, progress, chunk)
    report.leaves = compact.size
    report.root = compact.root()
    if not failed:
        _check_tail(conn, size, compact.size, report)
        _check_tree(conn, targets, roots=roots, bad_nodes=_first_bad_node(conn, recomputed), report=report)
        if report.ok and frontier != compact.hashes:
            message = "the head row disagrees with the stored leaves; the head was altered"
            report.problems.append(Problem("edited", None, message))
    return report


def _checkpoints(conn: Connection, verifier: Verifier | None, report: VerifyReport) -> dict[int, Checkpoint]:
    """Verify every checkpoint's note; returns the checkpoints to compare with the tree, by size."""
    by_size: dict[int, Checkpoint] = {}
    stored = read_checkpoints(conn)
    report.checkpoints = len(stored)
    for row in stored:
        try:
            checkpoint = open_note(row.note, verifier) if verifier is not None else parse_note(row.note)[0]
        except CheckpointError as exc:
            kind = "bad_checkpoint" if exc.kind == "malformed" else exc.kind
            report.problems.append(Problem(kind, None, f"checkpoint {row.id}: {exc}"))
            try:
                checkpoint = parse_note(row.note)[0]  # still compare it with the tree
            except CheckpointError:
                continue
        if (checkpoint.size, checkpoint.root) != (row.size, row.root):
            report.problems.append(
                Problem(
                    "bad_checkpoint",
                    None,
                    f"checkpoint {row.id}: its size/root columns disagree with its note",
                )
            )
        other = by_size.get(checkpoint.size)
        if other is not None and other.root != checkpoint.root:
            report.problems.append(
                Problem(
                    "inconsistent",
                    checkpoint.size,
                    f"two checkpoints of size {checkpoint.size} have different roots",
                )
            )
        by_size[checkpoint.size] = checkpoint
    return by_size


def _scan_leaves(
    conn: Connection,
    reader: ThreadPoolExecutor,
    compact: merkle.CompactRange,
    stops: list[int],
    roots: dict[int, bytes],
    report: VerifyReport,
    progress: Callable[[int, int], None] | None,
    chunk: int,
) -> bool:
    """Stream the leaves into ``compact``, noting the root at each stop; True if a leaf was bad.

    The fast path reads leaf hashes and bytes by index range and checks the count and every hash.
    A row that moved (its record names another index) changes the tree instead, and is named by
    ``_diagnose`` once the tree is compared: that keeps the per-row work to one hash.

    The next chunk is read on ``reader`` (one helper thread) while this one is hashed: both drivers
    release the GIL while the database works, so reading and hashing overlap. Only one read is in
    flight on the connection at a time, and none is when ``_diagnose`` takes the connection over.
    """
    sha = hashlib.sha256
    position = 0
    stop_at = iter(stops)
    next_stop = next(stop_at, None)
    total = report.size

    def read(start: int) -> Future[list[tuple[Any, ...]]] | None:
        if start >= total:
            return None
        return reader.submit(fetch_rows, conn, _RANGE_QUERY, (start, min(start + chunk, total)))

    pending = read(0)
    while pending is not None:
        end = min(position + chunk, total)
        rows = pending.result()
        pending = read(end)
        stored = [r[0] for r in rows]
        try:
            hashes: list[bytes] | None = [sha(b"\x00" + r[1]).digest() for r in rows]
        except TypeError:  # text where bytes belong: edited through SQL string functions
            hashes = None
        if hashes is None or len(rows) != end - position or hashes != stored:
            if pending is not None:
                pending.result()  # the connection is free again before _diagnose reads from it
            bad = _diagnose(conn, position, report)
            if bad is None:
                bad = position
                report.problems.append(Problem("edited", bad, f"leaves from {bad} could not be read back"))
            if hashes is not None and len(rows) == end - position:
                _feed(compact, hashes[: bad - position], roots, stops)
            return True
        while next_stop is not None and next_stop <= end:
            compact.append_leaves(hashes[compact.size - position : next_stop - position])
            roots[next_stop] = compact.root()
            next_stop = next(stop_at, None)
        compact.append_leaves(hashes[compact.size - position :])
        position = end
        if progress is not None:
            progress(position, total)
    return False


def _feed(
    compact: merkle.CompactRange, hashes: list[bytes], roots: dict[int, bytes], stops: list[int]
) -> None:
    """Add the good leaves before a bad one, still noting roots at the stops they reach."""
    start = compact.size
    for stop in stops:
        if start < stop <= start + len(hashes) and stop > compact.size:
            compact.append_leaves(hashes[compact.size - start : stop - start])
            roots[stop] = compact.root()
    compact.append_leaves(hashes[compact.size - start :])


def _diagnose(conn: Connection, start: int, report: VerifyReport) -> int | None:
    """Check rows one by one from ``start`` and name the first bad one; returns its index, or None."""
    position = start
    while True:
        rows = fetch_rows(conn, _CHUNK_QUERY, (position, CHUNK))
        if not rows:
            if position < report.size:
                message = f"leaves {position}..{report.size - 1} are missing; the log is truncated"
                report.problems.append(Problem("truncated", position, message))
                return position
            return None
        for idx, stored, data in rows:
            found = _check_row(conn, position, int(idx), _raw(stored), _raw(data), report)
            if found is not None:
                return found
            position += 1


def _check_row(
    conn: Connection, p: int, idx: int, stored: bytes, data: bytes, report: VerifyReport
) -> int | None:
    """The problem with the row found at position ``p``, if any (recorded in ``report``)."""
    if idx != p:
        if idx >= report.size:
            message = f"leaves {p}..{report.size - 1} are missing; the log is truncated"
            report.problems.append(Problem("truncated", p, message))
        else:
            message = f"leaf {p} is missing (the next stored leaf is {idx})"
            report.problems.append(Problem("missing", p, message))
        return p
    if merkle.leaf_hash(data) != stored:
        message = f"leaf {p} was edited: its bytes no longer match its leaf hash"
        report.problems.append(Problem("edited", p, message))
        return p
    claimed = _embedded_index(data)
    if claimed == p:
        return None
    if claimed is None:
        report.problems.append(Problem("edited", p, f"leaf {p} was edited: its record names no index"))
        return p
    if claimed < p:
        message = (
            f"leaf {p} holds the event recorded as leaf {claimed}: {p - claimed} leaf(s) were "
            f"inserted at or after index {claimed}"
        )
        report.problems.append(Problem("inserted", claimed, message))
        return claimed
    if _holder_of(conn, p, after=p) is not None:
        message = f"leaf {p} holds the event recorded as leaf {claimed}; leaves were reordered"
        report.problems.append(Problem("reordered", p, message))
    else:
        message = f"leaves {p}..{claimed - 1} are missing; later leaves were renumbered"
        report.problems.append(Problem("missing", p, message))
    return p


def _holder_of(conn: Connection, index: int, *, after: int) -> int | None:
    """The position of the stored leaf whose record names ``index``, searching after ``after``."""
    c = ledger_events.c
    position = after + 1
    while True:
        rows = conn.execute(
            sa.select(c.idx, c.data).where(c.idx >= position).order_by(c.idx).limit(CHUNK)
        ).all()
        if not rows:
            return None
        for idx, data in rows:
            if _embedded_index(_raw(data)) == index:
                return int(idx)
        position = int(rows[-1][0]) + 1


def _check_tail(conn: Connection, head_size: int, seen: int, report: VerifyReport) -> None:
    if seen < head_size:
        report.problems.append(
            Problem("truncated", seen, f"the head records {head_size} leaves but only {seen} are stored")
        )
    # Rows past the head read at the start may be appends committed since (PostgreSQL reads each
    # statement afresh): only rows past the head as it is now were put there behind its back.
    current = read_head(conn)[0]
    extra = conn.execute(
        sa.select(sa.func.min(ledger_events.c.idx)).where(ledger_events.c.idx >= max(head_size, current))
    ).scalar()
    if extra is not None:
        report.problems.append(
            Problem(
                "inserted",
                int(extra),
                f"leaf {extra} was inserted: it lies beyond the tree head ({head_size} leaves)",
            )
        )


def _first_bad_node(conn: Connection, recomputed: dict[tuple[int, int], bytes]) -> tuple[int, int] | None:
    """Leaf range [start, end) under the leftmost stored interior node that the leaves no longer give."""
    c = ledger_nodes.c
    first: tuple[int, int] | None = None
    query = sa.select(c.level, c.position, c.hash).where(c.level >= _COMPARE_FROM_LEVEL)
    for level, position, stored in conn.execute(query):
        key = (int(level), int(position))
        if key in recomputed and recomputed[key] != _raw(stored):
            span = (key[1] << key[0], (key[1] + 1) << key[0])
            if first is None or span[0] < first[0] or (span[0] == first[0] and span[1] < first[1]):
                first = span
    return first


def _check_tree(
    conn: Connection,
    targets: dict[int, Checkpoint],
    *,
    roots: dict[int, bytes],
    bad_nodes: tuple[int, int] | None,
    report: VerifyReport,
) -> None:
    """Compare the recomputed tree with the checkpoints and stored nodes, once every row looked sound.

    Rows that hash correctly but give another tree mean leaf hashes were rewritten along with the
    bytes. The rewritten leaf lies after the last checkpoint that still matches and before the first
    that does not; the stored interior nodes narrow that to the block they cover.
    """
    leaves = report.leaves
    longer = [size for size in targets if size > leaves]
    if longer and not any(p.kind == "truncated" for p in report.problems):
        message = f"truncated: a checkpoint covers {max(longer)} leaves but only {leaves} are stored"
        report.problems.append(Problem("truncated", leaves, message))
    matching = [size for size in targets if size in roots and roots[size] == targets[size].root]
    differing = [size for size in targets if size in roots and roots[size] != targets[size].root]
    if not differing and bad_nodes is None:
        return
    lower, upper = 0, leaves
    if differing:
        upper = min(differing)
        lower = max((size for size in matching if size < upper), default=0)
    if bad_nodes is not None and bad_nodes[0] < upper and bad_nodes[1] > lower:
        lower, upper = max(lower, bad_nodes[0]), min(upper, bad_nodes[1])
    if _diagnose(conn, lower, report) is not None:
        return  # a moved, inserted or renumbered row, now named
    what = (
        f"the checkpoint of size {min(differing)} no longer matches"
        if differing
        else "stored tree nodes differ"
    )
    message = (
        f"a leaf in [{lower}, {upper}) was edited and its leaf hash rewritten: {what} the recomputed tree"
    )
    report.problems.append(Problem("edited", lower, message))
