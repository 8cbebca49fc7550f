"""Evidence bundles: export on both databases, offline verification, and any changed byte failing it."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from andon.errors import EvidenceError
from andon.ledger import merkle
from andon.ledger.events import Event
from andon.ledger.evidence import MEMBERS, Selection, export_bundle, verify_bundle
from andon.ledger.keys import Signer
from andon.ledger.log import append
from andon.ledger.tree import StoredTree
from andon.store.tables import ledger_events, ledger_nodes

from .helpers import fill


def _export(engine: Engine, signer: Signer, out: Path, selection: Selection | None = None) -> Path:
    with engine.begin() as conn:
        export_bundle(conn, out_path=out, signer=signer, selection=selection)
    return out


def test_exported_bundle_verifies_offline(engine: Engine, signer: Signer, tmp_path: Path) -> None:
    fill(engine, 700, batch=100, signer=signer)
    bundle = _export(engine, signer, tmp_path / "b.zip", Selection(run_id="run-3"))
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert report.events == 100  # run-3 is every 7th event of 700
    assert report.tree_size == 700 and report.origin == signer.name
    assert report.selection is not None and report.selection["run_id"] == "run-3"
    with zipfile.ZipFile(bundle) as archive:
        assert archive.namelist() == list(MEMBERS)
        lines = archive.read("events.jsonl").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["index"] for r in records] == list(range(3, 700, 7))
    assert all(r["run_id"] == "run-3" for r in records)
    assert verify_bundle(bundle, key=signer.verifier.vkey()).ok
    assert verify_bundle(bundle, key=signer.verifier.raw()).ok


def test_selection_by_incident_and_time_window(engine: Engine, signer: Signer, tmp_path: Path) -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    with engine.begin() as conn:
        append(
            conn,
            [
                Event(
                    kind="incident_change" if i % 4 == 0 else "note",
                    actor="ops",
                    payload={"i": i, **({"incident_id": "INC-7"} if i % 4 == 0 else {})},
                    time=start + timedelta(hours=i),
                )
                for i in range(40)
            ],
        )
    # no checkpoint yet: export signs one that covers the selection
    by_incident = verify_bundle(_export(engine, signer, tmp_path / "i.zip", Selection(incident_id="INC-7")))
    assert by_incident.ok and by_incident.events == 10 and by_incident.tree_size == 40
    window = Selection(since=start + timedelta(hours=5), until=start + timedelta(hours=9))
    by_time = verify_bundle(_export(engine, signer, tmp_path / "t.zip", window))
    assert by_time.ok and by_time.events == 4


def test_every_changed_byte_fails_verification(engine: Engine, signer: Signer, tmp_path: Path) -> None:
    fill(engine, 40, batch=40, signer=signer)
    bundle = _export(engine, signer, tmp_path / "b.zip", Selection(run_id="run-1"))
    original = bundle.read_bytes()
    damaged = tmp_path / "damaged.zip"
    for offset in range(len(original)):
        for flip in (0x01, 0x80):
            changed = bytearray(original)
            changed[offset] ^= flip
            damaged.write_bytes(bytes(changed))
            report = verify_bundle(damaged)
            assert not report.ok, f"byte {offset} ^ {flip:#x} went unnoticed"
    damaged.write_bytes(original[:-1])
    assert not verify_bundle(damaged).ok
    damaged.write_bytes(original + b"\x00")
    assert not verify_bundle(damaged).ok


def test_a_rebuilt_bundle_with_an_edited_event_fails_even_with_a_fresh_manifest(
    engine: Engine, signer: Signer, tmp_path: Path
) -> None:
    fill(engine, 30, batch=30, signer=signer)
    bundle = _export(engine, signer, tmp_path / "b.zip")
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name) for name in MEMBERS}
    members["events.jsonl"] = members["events.jsonl"].replace(b'"allow"', b'"deny"', 1)
    rebuilt = tmp_path / "rebuilt.zip"
    with zipfile.ZipFile(rebuilt, "w") as archive:
        for name in MEMBERS:
            archive.writestr(name, members[name])
        archive.comment = bundle.read_bytes()[-102:]
    report = verify_bundle(rebuilt)
    assert not report.ok
    assert any("signature" in p for p in report.problems)


def test_a_pinned_key_rejects_a_bundle_from_another_ledger(
    engine: Engine, signer: Signer, tmp_path: Path
) -> None:
    fill(engine, 10, batch=10, signer=signer)
    bundle = _export(engine, signer, tmp_path / "b.zip")
    report = verify_bundle(bundle, key=Signer.generate().verifier.vkey())
    assert not report.ok and "pinned key" in report.problems[0]


def test_export_refuses_a_tampered_store(engine: Engine, signer: Signer, tmp_path: Path) -> None:
    fill(engine, 20, batch=20, signer=signer)
    with engine.begin() as conn:
        conn.execute(
            ledger_events.update().where(ledger_events.c.idx == 5).values(leaf_hash=merkle.leaf_hash(b"x"))
        )
    with pytest.raises(EvidenceError, match="leaf 5"), engine.begin() as conn:
        export_bundle(conn, out_path=tmp_path / "b.zip", signer=signer)
    assert not (tmp_path / "b.zip").exists()


def test_export_of_an_empty_ledger_is_refused(engine: Engine, signer: Signer, tmp_path: Path) -> None:
    with pytest.raises(EvidenceError, match="empty"), engine.begin() as conn:
        export_bundle(conn, out_path=tmp_path / "b.zip", signer=signer)


def test_bulk_proofs_match_single_proofs(engine: Engine) -> None:
    fill(engine, 1000, batch=250)
    with engine.connect() as conn:
        tree = StoredTree(conn)
        bulk = tree.inclusion_proofs(range(0, 1000, 13), 1000)
        assert all(bulk[i] == tree.inclusion_proof(i, 1000) for i in range(0, 1000, 13))


def _one_incident_in_many(engine: Engine, signer: Signer) -> None:
    with engine.begin() as conn:
        append(conn, [Event(kind="incident_change", actor="ops", payload={"incident_id": "INC-1"})])
    fill(engine, 299, batch=299, signer=signer)


def test_a_sparse_selection_is_proved_from_stored_nodes(
    engine: Engine, signer: Signer, tmp_path: Path
) -> None:
    _one_incident_in_many(engine, signer)  # 1 event of 300: too few to build the whole tree for
    report = verify_bundle(_export(engine, signer, tmp_path / "b.zip", Selection(incident_id="INC-1")))
    assert report.ok and report.events == 1 and report.tree_size == 300


def test_export_refuses_a_rewritten_history(engine: Engine, signer: Signer, tmp_path: Path) -> None:
    _one_incident_in_many(engine, signer)
    forged = b'{"actor":"mallory","index":100}'
    with engine.begin() as conn:  # bytes and hash rewritten together: only the tree can tell
        conn.execute(
            ledger_events.update()
            .where(ledger_events.c.idx == 100)
            .values(data=forged, leaf_hash=merkle.leaf_hash(forged))
        )
    with pytest.raises(EvidenceError, match="checkpoint's root"), engine.begin() as conn:
        export_bundle(conn, out_path=tmp_path / "all.zip", signer=signer)  # dense: the whole tree
    with engine.begin() as conn:
        conn.execute(ledger_nodes.update().where(ledger_nodes.c.level == 4).values(hash=bytes(32)))
    with pytest.raises(EvidenceError, match="does not verify"), engine.begin() as conn:
        export_bundle(
            conn, out_path=tmp_path / "one.zip", signer=signer, selection=Selection(incident_id="INC-1")
        )
