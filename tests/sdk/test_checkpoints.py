"""An embedded store has no server to sign for it: the agent process signs checkpoints as it goes."""

from __future__ import annotations

import time
from pathlib import Path

from andon.demo.world import RUNBOOK_DIR
from andon.ledger.checkpoint import latest_checkpoint
from andon.ledger.keys import signing_key
from andon.ledger.log import tree_size
from andon.ledger.verify import verify_ledger
from andon.runbook.load import load_runbook
from andon.runbook.revisions import apply_runbook
from andon.sdk.client import Andon


def test_a_local_agent_signs_a_checkpoint_covering_its_events_within_seconds(tmp_path: Path) -> None:
    a = Andon.local(tmp_path / "andon.db", checkpoint_interval=0.2)
    engine = a.service.engine  # type: ignore[attr-defined]
    with engine.begin() as conn:
        apply_runbook(conn, load_runbook(RUNBOOK_DIR), source="test", actor="tests")
    a.refresh()
    read = a.tool("support-triage", "helpdesk.read_ticket")(lambda ticket_id: {"id": ticket_id})
    with a.run("support-triage", input={"ticket": "T-1"}, actor="svc-triage") as run:
        read("T-1")
        run.model_call(output={"group": "billing"}, confidence=0.9)
    assert a.flush(5.0)
    deadline = time.monotonic() + 5
    while True:
        with engine.connect() as conn:
            size, head = tree_size(conn), latest_checkpoint(conn)
        if head is not None and head.size == size and size > 0:
            break
        assert time.monotonic() < deadline, "no checkpoint covered the appended events within 5 s"
        time.sleep(0.1)
    a.close()
    with engine.connect() as conn:
        report = verify_ledger(conn, verifier=signing_key().verifier)
    assert report.ok, report.problems
