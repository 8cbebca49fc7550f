"""The tamper matrix: every way of altering the stored ledger is detected, located and named.

Each case tampers the way someone with write access to the database (and the data directory)
would, recomputing whatever is cheap to recompute, and runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from andon.ledger import merkle
from andon.ledger.checkpoint import Checkpoint, parse_note, read_checkpoints
from andon.ledger.events import Event
from andon.ledger.keys import SIGNING_KEY_FILE, Signer, Verifier, signing_key
from andon.ledger.log import append
from andon.ledger.verify import VerifyReport, verify_ledger
from andon.store import reading
from andon.store.tables import ledger_checkpoints, ledger_events, ledger_head

from .helpers import event, fill, stored

SIZE = 600  # checkpoints every 50 leaves; interior nodes stored for every aligned run of 16 and up


def _verify(engine: Engine, verifier: Verifier) -> VerifyReport:
    with engine.connect() as conn:
        return verify_ledger(conn, verifier=verifier, chunk=128)


def _set_row(engine: Engine, index: int, *, data: bytes, leaf_hash: bytes | None = None) -> None:
    values: dict[str, object] = {"data": data}
    if leaf_hash is not None:
        values["leaf_hash"] = leaf_hash
    with engine.begin() as conn:
        conn.execute(ledger_events.update().where(ledger_events.c.idx == index).values(**values))


def _forged_row(index: int) -> dict[str, object]:
    event = Event(
        kind="approval", actor="mallory", payload={"approver": "mallory"}, workflow="support-triage"
    )
    data = event.canonical(index)
    return {
        "idx": index,
        "leaf_hash": merkle.leaf_hash(data),
        "kind": event.kind,
        "actor": event.actor,
        "workflow": event.workflow,
        "time": event.time,
        "data": data,
    }


def edit_one_byte(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    _, data = stored(engine, 123)
    at = data.index(b'"n":123') + 6
    _set_row(engine, 123, data=data[:at] + b"4" + data[at + 1 :])
    return signer.verifier


def edit_and_rehash(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    _, data = stored(engine, 300)
    forged = data.replace(b'"decision":"allow"', b'"decision":"deny"')
    _set_row(engine, 300, data=forged, leaf_hash=merkle.leaf_hash(forged))
    return signer.verifier


def delete_one(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    with engine.begin() as conn:
        conn.execute(ledger_events.delete().where(ledger_events.c.idx == 200))
    return signer.verifier


def insert_in_the_middle(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    with engine.begin() as conn:
        for index in range(SIZE - 1, 299, -1):  # make room at 300, highest first to keep keys unique
            conn.execute(ledger_events.update().where(ledger_events.c.idx == index).values(idx=index + 1))
        conn.execute(ledger_events.insert().values(**_forged_row(300)))
        conn.execute(ledger_head.update().values(size=SIZE + 1))
    return signer.verifier


def insert_at_the_end(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    with engine.begin() as conn:
        conn.execute(ledger_events.insert().values(**_forged_row(SIZE)))
    return signer.verifier


def swap_two(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    hash_a, data_a = stored(engine, 100)
    hash_b, data_b = stored(engine, 400)
    _set_row(engine, 100, data=data_b, leaf_hash=hash_b)
    _set_row(engine, 400, data=data_a, leaf_hash=hash_a)
    return signer.verifier


def truncate_after_checkpoint(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    with engine.begin() as conn:
        conn.execute(ledger_events.delete().where(ledger_events.c.idx >= 450))
        hashes = [bytes(h) for (h,) in conn.execute(sa.select(ledger_events.c.leaf_hash).order_by("idx"))]
        compact = merkle.CompactRange()
        compact.append_leaves(hashes)  # a careful attacker rewrites the head to match
        conn.execute(ledger_head.update().values(size=450, frontier=b"".join(compact.hashes)))
    return signer.verifier


def corrupt_a_signature(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    with engine.begin() as conn:
        row = conn.execute(sa.select(ledger_checkpoints).order_by("id").limit(1).offset(3)).one()
        sig_at = row.note.rindex(" ") + 20
        flipped = "B" if row.note[sig_at] != "B" else "C"
        note = row.note[:sig_at] + flipped + row.note[sig_at + 1 :]
        conn.execute(ledger_checkpoints.update().where(ledger_checkpoints.c.id == row.id).values(note=note))
    return signer.verifier


def replace_the_key_file(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    os.remove(key_dir / SIGNING_KEY_FILE)
    return signing_key(key_dir).verifier  # what `andon verify` now trusts: the replaced key


def replace_the_key_and_resign(engine: Engine, signer: Signer, key_dir: Path) -> Verifier:
    os.remove(key_dir / SIGNING_KEY_FILE)
    mallory = signing_key(key_dir)
    with engine.begin() as conn:
        for row in read_checkpoints(conn):
            old, _ = parse_note(row.note)
            note = Checkpoint(origin=mallory.name, size=old.size, root=old.root).sign(mallory)
            conn.execute(
                ledger_checkpoints.update()
                .where(ledger_checkpoints.c.id == row.id)
                .values(note=note, key_id=mallory.verifier.key_id.hex())
            )
    return signer.verifier  # an auditor pins the key published before (andon verify --key)


Tamper = Callable[[Engine, Signer, Path], Verifier]

CASES: list[tuple[Tamper, str, int | None]] = [
    (edit_one_byte, "edited", 123),
    (edit_and_rehash, "edited", 300),
    (delete_one, "missing", 200),
    (insert_in_the_middle, "inserted", 300),
    (insert_at_the_end, "inserted", SIZE),
    (swap_two, "reordered", 100),
    (truncate_after_checkpoint, "truncated", 450),
    (corrupt_a_signature, "bad_signature", None),
    (replace_the_key_file, "key_replaced", None),
    (replace_the_key_and_resign, "key_replaced", None),
]


def test_an_untouched_ledger_verifies(engine: Engine, signer: Signer) -> None:
    fill(engine, SIZE, signer=signer)
    report = _verify(engine, signer.verifier)
    assert report.ok, report.problems
    assert (report.leaves, report.size, report.checkpoints) == (SIZE, SIZE, SIZE // 50)
    with engine.connect() as conn:
        hashes = [bytes(h) for (h,) in conn.execute(sa.select(ledger_events.c.leaf_hash).order_by("idx"))]
    assert report.root == merkle.root(hashes)


@pytest.mark.parametrize(("tamper", "kind", "index"), CASES, ids=[case[0].__name__ for case in CASES])
def test_tampering_is_detected_and_named(
    engine: Engine, signer: Signer, key_dir: Path, tamper: Tamper, kind: str, index: int | None
) -> None:
    fill(engine, SIZE, signer=signer)
    verifier = tamper(engine, signer, key_dir)
    report = _verify(engine, verifier)
    assert not report.ok
    first = report.problems[0]
    assert first.kind == kind, report.problems
    assert first.index == index, report.problems
    assert report.first_bad_index == index
    assert kind.split("_")[0] in first.message or (kind == "key_replaced" and "replaced" in first.message)


def test_verifying_does_not_hold_up_writers(engine: Engine, signer: Signer) -> None:
    fill(engine, 300, batch=100, signer=signer)
    appended: list[int] = []

    def append_meanwhile(done: int, total: int) -> None:
        with engine.begin() as conn:  # would wait on a write lock held by the verifier
            appended.extend(append(conn, [event(10_000 + done)]))

    with reading(engine) as conn:
        report = verify_ledger(conn, verifier=signer.verifier, progress=append_meanwhile, chunk=100)
    assert report.ok and report.leaves == 300  # the verifier saw one consistent snapshot
    assert appended == [300, 301, 302]
    assert _verify(engine, signer.verifier).leaves == 303
