"""The ledger commands, run through the real `andon` entry point: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from andon.cli.main import main
from andon.ledger.keys import SIGNING_KEY_FILE, signing_key
from andon.store import open_store
from andon.store.tables import ledger_events

from .helpers import fill


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("ANDON_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ANDON_DATABASE_URL", raising=False)
    engine = open_store(f"sqlite:///{tmp_path / 'data' / 'andon.db'}")
    yield engine  # type: ignore[misc]
    engine.dispose()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_exit_codes_and_json(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(store, 120, batch=40, signer=signing_key(tmp_path / "data"))
    code, out, _ = run(capsys, "verify")
    assert code == 0 and out.startswith("ok: 120 events, 3 checkpoints")
    with store.begin() as conn:
        conn.execute(ledger_events.delete().where(ledger_events.c.idx == 77))
    code, out, _ = run(capsys, "verify")
    assert code == 1 and "first bad leaf 77" in out and "missing at leaf 77" in out
    code, out, _ = run(capsys, "verify", "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and report["problems"][0]["kind"] == "missing"


def test_verify_with_a_pinned_key_file(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = signing_key(tmp_path / "data")
    fill(store, 10, batch=10, signer=signer)
    pinned = tmp_path / "published.vkey"
    pinned.write_text(signer.verifier.vkey() + "\n")
    assert run(capsys, "verify", "--key", str(pinned))[0] == 0
    (tmp_path / "data" / SIGNING_KEY_FILE).unlink()
    code, out, _ = run(capsys, "verify")  # no key left to check the signatures with
    assert code == 1 and "pass --key" in out


def test_ledger_key_and_checkpoint(store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ledger", "key", "-o", "json")
    key = json.loads(out)
    assert code == 0 and key["vkey"].startswith(key["name"] + "+" + key["key_id"] + "+")
    code, _, err = run(capsys, "ledger", "checkpoint")
    assert code == 2 and "empty" in err  # an error line, not a traceback
    fill(store, 5, batch=5)
    code, out, _ = run(capsys, "ledger", "checkpoint")
    assert code == 0 and out.splitlines()[1] == "5" and out.splitlines()[4].startswith("— " + key["name"])


def test_evidence_export_and_verify(
    store: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(store, 50, batch=50)
    bundle = tmp_path / "evidence.zip"
    code, out, _ = run(capsys, "evidence", "export", "--run", "run-2", "--out", str(bundle))
    assert code == 0 and "7 events" in out
    code, out, _ = run(capsys, "evidence", "verify", str(bundle))
    assert code == 0 and out.startswith("ok: 7 events")
    data = bytearray(bundle.read_bytes())
    data[100] ^= 0x20
    bundle.write_bytes(bytes(data))
    code, out, _ = run(capsys, "evidence", "verify", str(bundle), "-o", "json")
    assert code == 1 and json.loads(out)["ok"] is False
    code, _, err = run(capsys, "evidence", "export", "--since", "yesterday", "--out", str(bundle))
    assert code == 2 and "ISO 8601" in err
