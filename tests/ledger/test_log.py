"""Appending and reading the ledger, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from andon.errors import LedgerError
from andon.ledger import merkle
from andon.ledger.events import KINDS, Event
from andon.ledger.keys import Signer
from andon.ledger.log import append, read_event, read_events, tree_size
from andon.ledger.redact import Redactor
from andon.ledger.tree import StoredTree
from andon.ledger.verify import verify_ledger
from andon.store.tables import ledger_events

from .helpers import event, writer


def _leaf_hashes(engine: Engine) -> list[bytes]:
    with engine.connect() as conn:
        return [
            bytes(h)
            for (h,) in conn.execute(sa.select(ledger_events.c.leaf_hash).order_by(ledger_events.c.idx))
        ]


def test_append_assigns_consecutive_indexes_and_stores_canonical_records(engine: Engine) -> None:
    when = datetime(2026, 11, 22, 21, 54, 41, 123, tzinfo=UTC)
    with engine.begin() as conn:
        first = append(
            conn, [Event(kind="note", actor="ops", payload={"text": "héllo", "b": [1, 2.5]}, time=when)]
        )
        more = append(conn, [event(i) for i in range(3)])
    assert first == [0]
    assert more == [1, 2, 3]
    with engine.connect() as conn:
        assert tree_size(conn) == 4
        stored = read_event(conn, 0)
    assert stored is not None
    assert (
        stored.data
        == (
            '{"actor":"ops","index":0,"kind":"note","payload":{"b":[1,2.5],"text":"héllo"},'
            '"run_id":null,"time":"2026-11-22T21:54:41.000123Z","workflow":null}'
        ).encode()
    )
    assert stored.leaf_hash == merkle.leaf_hash(stored.data)
    assert stored.time == when
    assert stored.payload == {"text": "héllo", "b": [1, 2.5]}


def test_rolled_back_appends_leave_no_gap(engine: Engine) -> None:
    with engine.begin() as conn:
        append(conn, [event(0)])
    with pytest.raises(RuntimeError), engine.begin() as conn:
        append(conn, [event(1), event(2)])
        raise RuntimeError("the caller's decision failed")
    with engine.begin() as conn:
        assert append(conn, [event(3)]) == [1]
    with engine.connect() as conn:
        assert [e.payload["n"] for e in read_events(conn)] == [0, 3]


def test_read_events_filters(engine: Engine) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        Event(
            kind=KINDS[i % 3],
            actor="a",
            workflow="wf-a" if i % 2 else "wf-b",
            run_id=f"r{i % 4}",
            payload={"i": i, **({"incident_id": "inc-9"} if i % 5 == 0 else {})},
            time=base + timedelta(minutes=i),
        )
        for i in range(20)
    ]
    with engine.begin() as conn:
        append(conn, events)
    with engine.connect() as conn:

        def ids(**kw: object) -> list[int]:
            return [e.payload["i"] for e in read_events(conn, **kw)]  # type: ignore[arg-type]

        assert ids(workflow="wf-a") == [i for i in range(20) if i % 2]
        assert ids(run_id="r1") == [1, 5, 9, 13, 17]
        assert ids(kinds=["retrieval"]) == [i for i in range(20) if i % 3 == 1]
        assert ids(incident_id="inc-9") == [0, 5, 10, 15]
        assert ids(since=base + timedelta(minutes=5), until=base + timedelta(minutes=8)) == [5, 6, 7]
        assert ids(after_index=16) == [17, 18, 19]
        assert ids(workflow="wf-b", limit=3) == [0, 2, 4]


def test_bad_events_are_refused_with_the_place_named(engine: Engine) -> None:
    with pytest.raises(LedgerError, match="kind 'chat'"):
        Event(kind="chat", actor="a", payload={})
    with pytest.raises(LedgerError, match="timezone-aware"):
        Event(kind="note", actor="a", payload={}, time=datetime(2026, 1, 1))
    with pytest.raises(LedgerError, match="actor"):
        Event(kind="note", actor="", payload={})
    with engine.begin() as conn:
        with pytest.raises(LedgerError, match=r"\$\.payload\.scores\[1\] is nan"):
            append(conn, [Event(kind="note", actor="a", payload={"scores": [1.0, math.nan]})])
        with pytest.raises(LedgerError, match=r"\$\.payload\.when is a datetime"):
            append(conn, [Event(kind="note", actor="a", payload={"when": datetime.now(UTC)})])
    with engine.connect() as conn:
        assert tree_size(conn) == 0


def test_redaction_happens_before_hashing(engine: Engine, key_dir: Path) -> None:
    redactor = Redactor.from_config({"builtin": ["email"]}, key_dir=key_dir)
    with engine.begin() as conn:
        append(conn, [Event(kind="note", actor="a", payload={"to": "dana@acme.example"})], redactor=redactor)
        append(
            conn, [Event(kind="note", actor="a", payload={"cc": ["dana@acme.example"]})], redactor=redactor
        )
    with engine.connect() as conn:
        first, second = read_events(conn)
    assert b"dana@acme.example" not in first.data + second.data
    token = first.payload["to"]
    assert token.startswith("[email:") and second.payload["cc"] == [token]
    assert first.leaf_hash == merkle.leaf_hash(first.data)


def test_stored_tree_matches_the_in_memory_tree_across_block_boundaries(engine: Engine) -> None:
    sizes = []
    with engine.begin() as conn:
        for batch in (1, 254, 3, 300, 1, 500, 7):
            append(conn, [event(i) for i in range(batch)])
            sizes.append(tree_size(conn))
    hashes = _leaf_hashes(engine)
    with engine.connect() as conn:
        tree = StoredTree(conn)
        for size in [*sizes, 255, 256, 257, 511, 512, 513, 1024]:
            assert tree.root(size) == merkle.root(hashes[:size]), size
        n = len(hashes)
        for index in (0, 1, 255, 256, 700, n - 1):
            assert tree.inclusion_proof(index, n) == merkle.inclusion_proof(hashes, index, n)
            if index < 1024:
                assert tree.inclusion_proof(index, 1024) == merkle.inclusion_proof(hashes, index, 1024)
        for size1 in (1, 255, 256, 300, 513, n):
            assert tree.consistency_proof(size1, n) == merkle.consistency_proof(hashes, size1, n)
        many = tree.inclusion_proofs(range(0, n, 3), n)
        assert all(p == merkle.inclusion_proof(hashes, i, n) for i, p in many.items())


def test_concurrent_writer_processes_get_gapless_indexes(
    db: tuple[str, str | None], engine: Engine, key_dir: Path, signer: Signer
) -> None:
    writers, batches, batch = 4, 15, 20
    procs = [
        writer(db, writer_id=w, batches=batches, batch=batch, key_dir=key_dir, checkpoint_interval="0.05")
        for w in range(writers)
    ]
    acknowledged: list[tuple[int, int, int]] = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        acknowledged += [tuple(map(int, line.split())) for line in out.splitlines()]  # type: ignore[misc]
    total = writers * batches * batch
    # Each acknowledged batch got a contiguous run; together the runs tile 0..total-1 exactly.
    covered = sorted(i for _, first, last in acknowledged for i in range(first, last + 1))
    assert covered == list(range(total))
    with engine.connect() as conn:
        events = read_events(conn)
        assert [e.index for e in events] == list(range(total))
        for w in range(writers):
            mine = [(e.payload["batch"], e.payload["item"]) for e in events if e.payload["writer"] == w]
            assert mine == sorted(mine)  # one writer's events keep their order
        report = verify_ledger(conn, verifier=signer.verifier)
    assert report.ok, report.problems
    assert report.checkpoints >= 1
    assert json.dumps(report.as_dict())
