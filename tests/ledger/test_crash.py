"""Killing a writer with SIGKILL mid-stream loses no acknowledged event and leaves a verifiable log."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from andon.ledger.checkpoint import read_checkpoints, write_checkpoint
from andon.ledger.keys import Signer
from andon.ledger.log import append, read_events, tree_size
from andon.ledger.verify import verify_ledger

from .helpers import event, writer


def signed_checkpoint(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(read_checkpoints(conn))


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_event(
    db: tuple[str, str | None], engine: Engine, key_dir: Path, signer: Signer
) -> None:
    proc = writer(db, writer_id=1, batches=1_000_000, batch=25, key_dir=key_dir, checkpoint_interval="0.05")
    assert proc.stdout is not None
    acknowledged: list[tuple[int, int]] = []
    deadline = time.monotonic() + 60
    # Kill it mid-stream, once it has acknowledged 60 batches and signed a checkpoint of its own.
    while (len(acknowledged) < 60 or not signed_checkpoint(engine)) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "writer died"
        _, first, last = map(int, line.split())
        acknowledged.append((first, last))
    os.kill(proc.pid, signal.SIGKILL)
    # Lines already written before the kill are acknowledgements too.
    rest, _ = proc.communicate(timeout=30)
    acknowledged += [tuple(map(int, line.split()))[1:] for line in rest.splitlines()]  # type: ignore[misc]
    assert proc.returncode == -signal.SIGKILL
    last_acknowledged = max(last for _, last in acknowledged)

    with engine.connect() as conn:
        size = tree_size(conn)
        present = {e.index for e in read_events(conn)}
    assert size > last_acknowledged
    assert all(i in present for first, last in acknowledged for i in range(first, last + 1))
    assert present == set(range(size))

    # The ledger takes new events and checkpoints after the crash, and the whole log verifies.
    with engine.begin() as conn:
        assert append(conn, [event(0)]) == [size]
        write_checkpoint(conn, signer)
    with engine.connect() as conn:
        report = verify_ledger(conn, verifier=signer.verifier)
    assert report.ok, report.problems
    assert report.checkpoints >= 2
