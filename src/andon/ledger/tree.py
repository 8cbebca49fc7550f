"""The Merkle tree as kept in the store: leaf hashes, interior nodes from level 4 up, the head row.

A subtree hash over any range a proof names is assembled from complete aligned pieces: pieces of
16 leaves or more are single rows of ``ledger_nodes``; smaller ones are hashed from at most 15
leaf hashes of ``ledger_events``. So a proof costs two queries and O(log n) rows, whatever the size.
Storing from level 4 rather than 1 keeps the extra rows per append to one in eight.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.errors import LedgerError
from andon.ledger import merkle
from andon.store.dialect import locking

STORED_FROM_LEVEL = 4  # interior nodes of 2**4 leaves and up are stored; below, they are recomputed

_HEAD_SQL = "SELECT size, frontier FROM ledger_head WHERE id = 1"
_BATCH = 400  # bound parameters per query stay well under SQLite's and psycopg's limits

Range = tuple[int, int]
Piece = tuple[int, int]  # (level, position): the complete subtree over leaves [p << l, (p + 1) << l)


def split_frontier(frontier: bytes) -> list[bytes]:
    """The compact range stored in the head row, as a list of hashes (largest subtree first)."""
    return [frontier[i : i + merkle.HASH_SIZE] for i in range(0, len(frontier), merkle.HASH_SIZE)]


def read_head(conn: Connection, *, lock: bool = False) -> tuple[int, list[bytes]]:
    """(tree size, compact range) from the head row; ``lock`` holds it until the transaction ends.

    Plain SQL through the connection (so the transaction still begins as the store's hooks say): it
    runs on every append and decision, where building and compiling a Core statement cost more
    than the read.
    """
    row = conn.exec_driver_sql(locking(conn, _HEAD_SQL) if lock else _HEAD_SQL).first()
    if row is None:
        raise LedgerError("the ledger head row is missing; run `andon` migrations (andon.store.migrate)")
    return int(row.size), split_frontier(bytes(row.frontier))


def pieces(start: int, end: int) -> list[Piece]:
    """Complete aligned subtrees covering [start, end), largest first (``start`` must be aligned)."""
    out: list[Piece] = []
    cursor, length = start, end - start
    for level in range(length.bit_length() - 1, -1, -1):
        if length >> level & 1:
            if cursor % (1 << level):
                raise ValueError(f"range [{start}, {end}) is not a subtree of the tree")
            out.append((level, cursor >> level))
            cursor += 1 << level
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """Merkle hash of a range from its pieces' hashes (largest first): RFC 6962's right-leaning split."""
    r = hashes[-1]
    for h in reversed(hashes[:-1]):
        r = merkle.node_hash(h, r)
    return r


class StoredTree:
    """Reads subtree hashes, roots and proofs for any tree size up to the stored size."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def hashes(self, ranges: Iterable[Range]) -> dict[Range, bytes]:
        """Merkle hash of each leaf range, with every row needed fetched in a few batched queries."""
        wanted = {r: pieces(*r) for r in set(ranges)}
        needed = {p for ps in wanted.values() for p in ps}
        low = sorted({p for p in needed if p[0] < STORED_FROM_LEVEL})
        high = [p for p in needed if p[0] >= STORED_FROM_LEVEL]
        known = self._nodes(high)
        leaves = self._leaves([(pos << lvl, (pos + 1) << lvl) for lvl, pos in low])

        def low_hash(level: int, position: int) -> bytes:
            # Memoised bottom-up: pieces of many proofs share their lower nodes.
            key = (level, position)
            found = known.get(key)
            if found is None:
                if level == 0:
                    found = leaves.get(position)
                    if found is None:
                        raise LedgerError(f"leaf {position} is missing; run andon verify")
                else:
                    found = merkle.node_hash(
                        low_hash(level - 1, 2 * position), low_hash(level - 1, 2 * position + 1)
                    )
                known[key] = found
            return found

        for lvl, pos in low:
            low_hash(lvl, pos)
        return {r: fold([known[p] for p in ps]) for r, ps in wanted.items()}

    def root(self, size: int) -> bytes:
        """The root hash of the tree of the first ``size`` leaves."""
        if size == 0:
            return merkle.EMPTY_ROOT
        return self.hashes([(0, size)])[(0, size)]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        ranges = merkle.inclusion_ranges(index, size)
        found = self.hashes(ranges)
        return [found[r] for r in ranges]

    def inclusion_proofs(self, indexes: Iterable[int], size: int) -> dict[int, list[bytes]]:
        """Inclusion proofs of many leaves against one tree size, sharing every fetched row."""
        plans = {i: merkle.inclusion_ranges(i, size) for i in indexes}
        found = self.hashes(r for ranges in plans.values() for r in ranges)
        return {i: [found[r] for r in ranges] for i, ranges in plans.items()}

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        ranges = merkle.consistency_ranges(size1, size2)
        found = self.hashes(ranges)
        return [found[r] for r in ranges]

    # Both queries are plain text with numbered parameters: their shape varies with every proof, and
    # building and compiling a SQLAlchemy expression each time cost more than the database work.

    def _nodes(self, keys: Sequence[Piece]) -> dict[Piece, bytes]:
        out: dict[Piece, bytes] = {}
        by_level: dict[int, list[int]] = defaultdict(list)
        for level, position in keys:
            by_level[level].append(position)
        clauses: list[str] = []
        params: dict[str, int] = {}
        for level, positions in sorted(by_level.items()):
            for i in range(0, len(positions), _BATCH):
                names = []
                for position in positions[i : i + _BATCH]:
                    names.append(f":p{len(params)}")
                    params[names[-1][1:]] = position
                params[f"l{len(params)}"] = level
                clauses.append(f"(level = :l{len(params) - 1} AND position IN ({', '.join(names)}))")
                if len(params) >= _BATCH:
                    out.update(self._fetch_nodes(clauses, params))
                    clauses, params = [], {}
        if clauses:
            out.update(self._fetch_nodes(clauses, params))
        missing = [k for k in keys if k not in out]
        if missing:
            level, position = missing[0]
            raise LedgerError(f"tree node at level {level}, position {position} is missing; run andon verify")
        return out

    def _fetch_nodes(self, clauses: list[str], params: dict[str, int]) -> dict[Piece, bytes]:
        query = sa.text(f"SELECT level, position, hash FROM ledger_nodes WHERE {' OR '.join(clauses)}")
        return {
            (int(level), int(position)): bytes(h) for level, position, h in self.conn.execute(query, params)
        }

    def _leaves(self, spans: Sequence[Range]) -> dict[int, bytes]:
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        out: dict[int, bytes] = {}
        for i in range(0, len(merged), _BATCH // 2):
            chunk = merged[i : i + _BATCH // 2]
            where = " OR ".join(f"(idx >= :a{n} AND idx < :b{n})" for n in range(len(chunk)))
            params = {f"a{n}": span[0] for n, span in enumerate(chunk)}
            params.update({f"b{n}": span[1] for n, span in enumerate(chunk)})
            query = sa.text(f"SELECT idx, leaf_hash FROM ledger_events WHERE {where}")
            out.update((int(idx), bytes(h)) for idx, h in self.conn.execute(query, params))
        return out
