from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from andon.control.service import StoreControl
from andon.sdk.client import Andon
from andon.store.tables import control_actions

from .conftest import Store
from .crm import Crm, guard_crm

WORKER = Path(__file__).with_name("limits_worker.py")
LIMIT = 40


def run_agents(
    store: Store, tmp_path: Path, *, processes: int, threads: int, attempts: int
) -> list[dict[str, Any]]:
    url, schema = store
    start_at = time.time() + 4  # every process imports and connects first, then all start together
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                url,
                schema or "-",
                str(tmp_path / f"spool-{p}"),
                str(threads),
                str(attempts),
                str(start_at),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(processes)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


@pytest.mark.slow
def test_rate_limits_are_exact_under_32_threads_in_2_processes(
    store: Store, tmp_path: Path, reapply: Callable[..., int], operator: StoreControl
) -> None:
    reapply(limits={"rate": {"workflow": "100000/min", "tools": {"crm.update_tier": f"{LIMIT}/h"}}})
    results = run_agents(store, tmp_path, processes=2, threads=32, attempts=4)
    executed = sum(r["executed"] for r in results)
    denied = sum(r["denied"].get("rate_limit", 0) for r in results)
    assert executed == LIMIT  # 256 attempts; the hour's budget refills < 0.1 token during the test
    assert denied == 2 * 32 * 4 - LIMIT
    with operator.engine.connect() as conn:
        statuses = conn.execute(
            sa.select(control_actions.c.status, sa.func.count()).group_by(control_actions.c.status)
        ).all()
    assert dict(statuses) == {"succeeded": LIMIT, "denied": 2 * 32 * 4 - LIMIT}


def test_consecutive_failures_trip_the_breaker_until_a_person_resumes(
    make_client: Callable[..., Andon], reapply: Callable[..., int], operator: StoreControl
) -> None:
    reapply(limits={"circuit_breaker": {"consecutive_failures": 3}})
    a = make_client()

    @a.tool("support-triage", "crm.update_tier")
    def update_tier(account_id: str, tier: str) -> None:
        raise TimeoutError("CRM timed out")

    from andon.errors import Denied

    with a.run("support-triage") as run:
        run.model_call(output="x", confidence=0.9)
        for _ in range(3):
            with pytest.raises(TimeoutError):
                update_tier("acct-1", "gold")
        with pytest.raises(Denied) as denied:
            update_tier("acct-1", "gold")
    assert denied.value.rule == "paused" and "3 consecutive failures" in denied.value.reason
    [switch] = operator.list_switches(workflow="support-triage")
    assert switch.actor == "andon:circuit-breaker"
    operator.clear_switches(
        workflow="support-triage", kinds=("pause_workflow",), actor="ops-lead", reason="CRM is back"
    )
    _, good = guard_crm(a, Crm())
    with a.run("support-triage") as run:
        run.model_call(output="x", confidence=0.9)
        assert good("acct-1", "gold")["tier"] == "gold"


def test_a_burst_trips_the_breaker(
    make_client: Callable[..., Andon], reapply: Callable[..., int], operator: StoreControl
) -> None:
    reapply(limits={"circuit_breaker": {"burst": "5/10s"}})
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    from andon.errors import Denied

    with a.run("support-triage") as run:
        run.model_call(output="x", confidence=0.9)
        for n in range(5):
            update_tier(f"acct-{n}", "gold")
        with pytest.raises(Denied) as denied:
            update_tier("acct-6", "gold")
        assert denied.value.rule == "circuit_breaker"
        with pytest.raises(Denied) as again:
            update_tier("acct-7", "gold")
        assert again.value.rule == "paused"
    assert crm.writes == 5
