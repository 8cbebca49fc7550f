"""Detector benchmark: events/s the detectors sustain on one core, and append-to-signal latency.

    python bench/detect.py --quick          # a few seconds
    python bench/detect.py                  # 300,000 events; latency on SQLite and PostgreSQL
    python bench/detect.py --no-postgres

Throughput (CPU time is the one-core figure; wall time drops when other work shares the machine):
a realistic mixed stream (runs of a support workflow: run notes, retrievals, model calls,
reads, writes with outcomes, refund e-mails, approvals; a little of every signal) is built first, then
fed to one DetectorEngine; the figure is the detectors' cost, not the ledger's.
Latency: a follower tails a real store (``follow`` with a wake-up hook, and by polling alone); each trial
appends one triggering event and times from the start of that append to the signal reaching the sink.
PostgreSQL is $ANDON_BENCH_POSTGRES_URL or the local test database; each run uses a fresh schema.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from andon.detect import DetectorEngine, Observed, Signal, Wakeup, follow
from andon.ledger.events import Event
from andon.ledger.log import append
from andon.runbook.load import load_runbook
from andon.runbook.revisions import apply_runbook
from andon.store import create_engine, migrate

POSTGRES_URL = os.environ.get("ANDON_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "support-agent.yaml")
WORKFLOW = "support-agent"
TICKETS = [
    "Hi, I was charged twice for my subscription this month. Can you refund the second charge?",
    "My invoice shows the wrong VAT number, please send a corrected one.",
    "Please disregard my previous email, I found the invoice. But the plan price is still wrong.",
    "The export to CSV fails with error 500 since yesterday's update.",
    "Can you move us from the Pro tier to Business? We now have 40 seats.",
]


@dataclass
class Row:
    what: str
    value: float
    unit: str
    target: float | None = None
    lower_is_better: bool = False

    def ratio(self) -> str:
        if self.target is None or self.value == 0:
            return "-"
        ratio = self.target / self.value if self.lower_is_better else self.value / self.target
        return f"{ratio:.2f}"


def mixed_stream(count: int, *, seed: int = 1) -> list[Observed]:
    """About ``count`` events of support-agent runs, one run every 0.05 s of ledger time."""
    rng = random.Random(seed)
    events: list[Observed] = []
    clock = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

    def add(kind: str, payload: dict[str, Any], run_id: str | None, actor: str = "svc-agent") -> None:
        nonlocal clock
        clock += timedelta(milliseconds=6)
        events.append(Observed(len(events), kind, actor, WORKFLOW, run_id, clock, payload))

    n = 0
    while len(events) < count:
        n += 1
        run_id, account, email = f"run-{n}", f"ACCT-{n:06d}", f"c{n}@customer.example"
        ticket = rng.choice(TICKETS)
        add("note", {"text": "run started", "input": {"ticket": f"T-{n}", "body": ticket}}, run_id)
        add(
            "retrieval",
            {
                "source": "crm",
                "query": account,
                "documents": [{"account_id": account, "email": email, "tier": "pro"}],
            },
            run_id,
        )
        route = rng.choices(["billing", "bug", "how-to", "account"], weights=[40, 25, 20, 15])[0]
        confidence = round(rng.uniform(0.45, 0.99), 2)
        add(
            "model_call",
            {
                "prompt_version": "prompt:agent-system@v7",
                "model": "gpt-4.1",
                "input": {"ticket": ticket},
                "output": {"label": route, "reply": "Thanks, we are on it."},
                "confidence": confidence,
            },
            run_id,
        )
        add(
            "decision",
            {"tool": "crm.lookup_account", "effect": "read", "decision": "allow", "rule": "read"},
            run_id,
        )
        action = f"act-{n}"
        add(
            "decision",
            {
                "action_id": action,
                "tool": "crm.update_tier",
                "effect": "write",
                "decision": "allow",
                "rule": "autonomy:autonomous",
                "args": {"account_id": account, "tier": rng.choice(["pro", "business"])},
            },
            run_id,
        )
        add(
            "action_outcome",
            {"action_id": action, "tool": "crm.update_tier", "ok": rng.random() > 0.03},
            run_id,
        )
        if route == "billing":
            send = f"send-{n}"
            add(
                "decision",
                {
                    "action_id": send,
                    "tool": "email.send_refund",
                    "effect": "send",
                    "decision": "allow",
                    "rule": "autonomy:autonomous",
                    "args": {
                        "to": email,
                        "subject": "Your refund",
                        "body": f"Refund for {account} is on its way.",
                    },
                },
                run_id,
            )
            add("action_outcome", {"action_id": send, "tool": "email.send_refund", "ok": True}, run_id)
        if n % 25 == 0:
            add(
                "approval",
                {
                    "approval_id": f"apr-{n}",
                    "approver": "billing-lead",
                    "decision": "approved",
                    "seconds_to_decide": 40,
                },
                None,
                actor="billing-lead",
            )
        add("note", {"text": "run ended"}, run_id)
    return events[:count]


def throughput(count: int) -> tuple[list[Row], int]:
    """Events per second of CPU time (one core: the engine is single-threaded) and of wall time."""
    runbook = load_runbook(EXAMPLE)
    events = mixed_stream(count)
    engine = DetectorEngine(runbook)
    wall, cpu = time.perf_counter(), time.process_time()
    signals = engine.feed(events)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rows = [
        Row(f"detectors, {count:,} mixed events, per CPU second", count / cpu, "events/s", 20_000),
        Row(f"detectors, {count:,} mixed events, per wall second", count / wall, "events/s", 20_000),
    ]
    return rows, len(signals)


@contextmanager
def store(kind: str) -> Iterator[sa.Engine]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            engine = create_engine(f"sqlite:///{folder}/andon.db")
            migrate(engine)
            yield engine
            engine.dispose()
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine(POSTGRES_URL, schema=schema)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def latency(kind: str, *, trials: int, wake: bool) -> Row:
    """Seconds from the start of a triggering append to its signal in the sink (p95 over trials)."""
    with store(kind) as engine:
        with engine.begin() as conn:
            apply_runbook(conn, load_runbook(EXAMPLE), source="bench", actor="bench")
            append(conn, [Event("note", "bench", {"text": "start"}, WORKFLOW)])
        arrived: dict[str, float] = {}
        got = threading.Event()

        def sink(signal: Signal) -> None:
            arrived[signal.details["tool"]] = time.perf_counter()
            got.set()

        stop, wakeup = threading.Event(), Wakeup()
        follower = threading.Thread(
            target=follow,
            args=(engine,),
            kwargs={"sink": sink, "stop": stop, "wakeup": wakeup if wake else None},
        )
        follower.start()
        times: list[float] = []
        try:
            time.sleep(0.2)  # let the follower load the runbook
            for trial in range(trials):
                tool = f"admin.grant_{trial}"  # an undeclared tool, denied: one new signal per trial
                event = Event(
                    "decision",
                    "svc-agent",
                    {"tool": tool, "effect": "unknown", "decision": "deny", "rule": "unauthorised_tool"},
                    WORKFLOW,
                )
                got.clear()
                start = time.perf_counter()
                with engine.begin() as conn:
                    append(conn, [event])
                if wake:
                    wakeup.notify()
                got.wait(5)
                times.append(arrived.get(tool, float("inf")) - start)
                time.sleep(0.02)
        finally:
            stop.set()
            follower.join(timeout=5)
    how = "wake-up hook" if wake else "polling only"
    p95 = statistics.quantiles(times, n=20)[-1] if len(times) >= 2 else times[0]
    return Row(f"append -> signal p95, {kind}, {how} (max {max(times) * 1000:.0f} ms)", p95, "s", 1.0, True)


def postgres_ok() -> bool:
    try:
        probe = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.execute(sa.text("select 1"))
        probe.dispose()
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--events", type=int, default=None, help="events in the throughput stream")
    parser.add_argument("--trials", type=int, default=None, help="latency trials per database and mode")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    count = args.events or (60_000 if args.quick else 300_000)
    trials = args.trials or (10 if args.quick else 40)
    rows: list[Row] = []
    measured, signals = throughput(count)
    rows.extend(measured)
    kinds = ["sqlite"] + ([] if args.no_postgres or not postgres_ok() else ["postgres"])
    for kind in kinds:
        rows.append(latency(kind, trials=trials, wake=True))
        rows.append(latency(kind, trials=trials, wake=False))
    width = max(len(r.what) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  {'unit':<9} {'target':>8}  ratio")
    for r in rows:
        value = f"{r.value:,.0f}" if r.unit == "events/s" else f"{r.value:.3f}"
        target = (
            "-" if r.target is None else (f"{r.target:,.0f}" if r.unit == "events/s" else f"<= {r.target:g}")
        )
        print(f"{r.what:<{width}}  {value:>12}  {r.unit:<9} {target:>8}  {r.ratio()}")
    print(
        f"(signals in the throughput stream after cool-down dedup: {signals}; ratio >= 1.0 meets the target)"
    )


if __name__ == "__main__":
    main()
