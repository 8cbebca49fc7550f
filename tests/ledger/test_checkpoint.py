"""Checkpoints: the C2SP signed-note format, signing on demand and in the background, refusing forks."""

from __future__ import annotations

import base64
import hashlib
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from andon.errors import ConfigError, LedgerError
from andon.ledger import merkle
from andon.ledger.checkpoint import (
    Checkpoint,
    Checkpointer,
    CheckpointError,
    open_note,
    parse_note,
    read_checkpoints,
    write_checkpoint,
)
from andon.ledger.keys import SIGNING_KEY_FILE, Signer, Verifier, signing_key
from andon.ledger.tree import STORED_FROM_LEVEL
from andon.store.tables import ledger_events, ledger_head, ledger_nodes

from .helpers import fill, stored


def test_note_is_a_c2sp_signed_note(signer: Signer) -> None:
    root = hashlib.sha256(b"root").digest()
    note = Checkpoint(origin=signer.name, size=42, root=root).sign(signer)
    body, signature_line = note.split("\n\n")
    assert body == f"{signer.name}\n42\n{base64.b64encode(root).decode()}"
    assert signature_line.startswith(f"— {signer.name} ") and signature_line.endswith("\n")
    blob = base64.b64decode(signature_line.split(" ")[2])
    public = signer.verifier.public_key
    # key id = SHA-256(name || 0x0A || 0x01 || public key)[:4], then the 64-byte Ed25519 signature
    assert blob[:4] == hashlib.sha256(signer.name.encode() + b"\n\x01" + public).digest()[:4]
    assert len(blob) == 68
    assert signer.verifier.verify(blob[4:], (body + "\n").encode())
    assert open_note(note, signer.verifier) == Checkpoint(origin=signer.name, size=42, root=root)


def test_notes_signed_by_another_key_or_altered_are_refused(signer: Signer) -> None:
    note = Checkpoint(origin=signer.name, size=7, root=bytes(32)).sign(signer)
    other = Signer.generate()
    with pytest.raises(CheckpointError) as replaced:
        open_note(note, other.verifier)
    assert replaced.value.kind == "key_replaced"
    with pytest.raises(CheckpointError) as altered:
        open_note(note.replace("\n7\n", "\n8\n"), signer.verifier)
    assert altered.value.kind == "bad_signature"
    for broken in (note.replace("\n\n", "\n"), note.replace("— ", "-- "), note.replace("\n7\n", "\nseven\n")):
        with pytest.raises(CheckpointError) as malformed:
            parse_note(broken)
        assert malformed.value.kind == "malformed"


def test_verifier_key_round_trips_and_rejects_damage(signer: Signer) -> None:
    vkey = signer.verifier.vkey()
    name, key_id, encoded = vkey.split("+", 2)
    assert name == signer.name and key_id == signer.verifier.key_id.hex()
    assert base64.b64decode(encoded) == b"\x01" + signer.verifier.public_key
    assert Verifier.parse(vkey) == signer.verifier
    with pytest.raises(ConfigError, match="does not match"):
        Verifier.parse(f"{name}+00000000+{encoded}")
    with pytest.raises(ConfigError):
        Verifier.parse("not a key")


def test_signing_key_is_created_once_with_owner_only_permissions(key_dir: Path) -> None:
    first = signing_key(key_dir)
    assert (key_dir / SIGNING_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert signing_key(key_dir).verifier == first.verifier


def test_write_checkpoint_signs_the_current_tree_once(engine: Engine, signer: Signer) -> None:
    with engine.begin() as conn:
        assert write_checkpoint(conn, signer) is None  # nothing to sign yet
    fill(engine, 300, batch=300)
    with engine.begin() as conn:
        written = write_checkpoint(conn, signer)
        again = write_checkpoint(conn, signer)
    assert written is not None and again == written
    leaf_hashes = []
    for index in range(300):
        leaf_hashes.append(stored(engine, index)[0])
    assert open_note(written.note, signer.verifier) == Checkpoint(signer.name, 300, merkle.root(leaf_hashes))
    with engine.connect() as conn:
        assert len(read_checkpoints(conn)) == 1


def _rewrite_history(engine: Engine) -> None:
    """Edit leaf 10 and rebuild every stored node and the head so the forged tree is self-consistent."""
    _, data = stored(engine, 10)
    forged = data.replace(b'"allow"', b'"deny"')
    with engine.begin() as conn:
        conn.execute(
            ledger_events.update()
            .where(ledger_events.c.idx == 10)
            .values(data=forged, leaf_hash=merkle.leaf_hash(forged))
        )
        hashes = [bytes(h) for (h,) in conn.execute(sa.select(ledger_events.c.leaf_hash).order_by("idx"))]
        nodes: list[dict[str, object]] = []
        compact = merkle.CompactRange(
            on_node=lambda level, pos, h: nodes.append({"level": level, "position": pos, "hash": h}),
            report_from=STORED_FROM_LEVEL,
        )
        compact.append_leaves(hashes)
        conn.execute(ledger_nodes.delete())
        conn.execute(ledger_nodes.insert(), nodes)
        conn.execute(ledger_head.update().values(frontier=b"".join(compact.hashes)))


def test_a_forked_tree_is_never_signed(engine: Engine, signer: Signer) -> None:
    fill(engine, 100, batch=100, signer=signer)
    _rewrite_history(engine)
    fill(engine, 20, batch=20, start=100)
    with (
        pytest.raises(LedgerError, match="not consistent with the checkpoint at size 100"),
        engine.begin() as conn,
    ):
        write_checkpoint(conn, signer)
    with engine.connect() as conn:
        assert [c.size for c in read_checkpoints(conn)] == [100]


def test_stored_nodes_that_disagree_with_the_head_are_never_signed(engine: Engine, signer: Signer) -> None:
    fill(engine, 100, batch=100, signer=signer)
    fill(engine, 20, batch=20, start=100)
    with engine.begin() as conn:
        conn.execute(
            ledger_nodes.update()
            .where(ledger_nodes.c.level == 6, ledger_nodes.c.position == 0)  # leaves [0, 64)
            .values(hash=bytes(32))
        )
    with pytest.raises(LedgerError, match="disagrees with the head"), engine.begin() as conn:
        write_checkpoint(conn, signer)


def test_checkpointer_signs_every_interval_while_events_arrive(engine: Engine, key_dir: Path) -> None:
    signer = signing_key(key_dir)
    with Checkpointer(engine, signer=signer, interval=0.05) as checkpointer:
        for start in range(0, 100, 20):
            fill(engine, 20, batch=20, start=start)
            time.sleep(0.15)
        assert checkpointer.last_error is None
    with engine.connect() as conn:
        sizes = [c.size for c in read_checkpoints(conn)]
    assert sizes == sorted(sizes) and len(sizes) >= 4
    assert sizes[-1] == 100  # stopping signs whatever arrived last
