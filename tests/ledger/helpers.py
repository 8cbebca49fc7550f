"""Shared helpers for ledger tests: fill a store, run writer processes, tamper with rows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from andon.ledger.checkpoint import write_checkpoint
from andon.ledger.events import Event
from andon.ledger.keys import Signer
from andon.ledger.log import append
from andon.store.tables import ledger_events

WRITER = Path(__file__).with_name("writer.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def event(i: int, *, workflow: str = "support-triage", run_id: str | None = None, **payload: Any) -> Event:
    return Event(
        kind="decision",
        actor="svc-triage",
        workflow=workflow,
        run_id=run_id or f"run-{i % 7}",
        payload={"action_id": f"a-{i}", "decision": "allow", "n": i, **payload},
    )


def fill(
    engine: Engine, count: int, *, batch: int = 50, signer: Signer | None = None, start: int = 0
) -> None:
    """Append ``count`` events in batches, signing a checkpoint after each batch when given a signer."""
    for first in range(start, start + count, batch):
        with engine.begin() as conn:
            append(conn, [event(i) for i in range(first, min(first + batch, start + count))])
            if signer is not None:
                write_checkpoint(conn, signer)


def stored(engine: Engine, index: int) -> tuple[bytes, bytes]:
    """(leaf hash, data) of one stored row."""
    c = ledger_events.c
    with engine.connect() as conn:
        row = conn.execute(sa.select(c.leaf_hash, c.data).where(c.idx == index)).one()
    return bytes(row.leaf_hash), bytes(row.data)


def writer(
    db: tuple[str, str | None], *, writer_id: int, batches: int, batch: int, key_dir: Path, **extra: str
) -> subprocess.Popen[str]:
    """Start tests/ledger/writer.py in a new process; it prints one line per committed batch."""
    url, schema = db
    args = [
        sys.executable,
        str(WRITER),
        url,
        schema or "-",
        str(writer_id),
        str(batches),
        str(batch),
        str(key_dir),
    ]
    for name, value in extra.items():
        args += [f"--{name.replace('_', '-')}", value]
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
