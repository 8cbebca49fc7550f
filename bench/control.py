"""Control-plane benchmark: guard overhead (read, write) in local mode, and limit overshoot under load.

    python bench/control.py --quick         # a few seconds
    python bench/control.py                 # more calls, both databases for the overshoot
    python bench/control.py --no-postgres

Prints one table. Overheads are medians of single calls, guarded minus unguarded, measured in the same
run on the same function. "write decision" is the durable part alone (decision, reservation, action row
and ledger event in one transaction); "guarded write" adds running the tool and recording its outcome.
The overshoot runs 32 threads in each of 2 processes against one tool limited to LIMIT per hour and
counts executions beyond the limit (target 0). PostgreSQL is $ANDON_BENCH_POSTGRES_URL or the local test
database, in a fresh schema.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from andon.control.actions import ActionRequest
from andon.control.redaction import ledger_redactor
from andon.errors import Denied
from andon.ledger.events import Event
from andon.ledger.log import append
from andon.runbook.revisions import apply_runbook
from andon.runbook.schema import Runbook
from andon.sdk.client import Andon
from andon.store import create_engine, migrate

POSTGRES_URL = os.environ.get("ANDON_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LIMIT = 50
RUNBOOK: dict[str, Any] = {
    "andon": 1,
    "organisation": {
        "name": "Bench Ltd",
        "contacts": {
            "lead": {"name": "Lee", "role": "business", "email": "lee@bench.example"},
            "eng": {"name": "Eng", "role": "technical", "email": "eng@bench.example"},
        },
    },
    "severities": [{"id": "sev1", "name": "Critical", "definition": "Harm", "acknowledge_within": "15m"}],
    "workflows": [
        {
            "id": "bench",
            "purpose": "Benchmark",
            "owners": {"business": "lead", "technical": "eng"},
            "model": {"provider": "openai", "name": "gpt-4.1-mini"},
            "tools": [
                {"name": "kb.read", "effect": "read"},
                {"name": "crm.update", "effect": "write", "undo": "crm.restore"},
                {"name": "crm.limited", "effect": "write", "undo": "crm.restore"},
            ],
            "autonomy": "autonomous",
            "limits": {"rate": {"workflow": "1000000/min", "tools": {"crm.limited": f"{LIMIT}/h"}}},
            "fallback": {"queue": "Humans", "contact": "lead"},
            "recovery": "Roll back.",
        }
    ],
}


def prepare(url: str, schema: str | None) -> None:
    engine = create_engine(url, schema=schema)
    migrate(engine)
    with engine.begin() as conn:
        apply_runbook(conn, Runbook.model_validate(RUNBOOK), source="bench", actor="bench")
    engine.dispose()


def median_us(fn: Callable[[], Any], n: int) -> float:
    for _ in range(min(200, n)):
        fn()
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        start = clock()
        fn()
        samples.append(clock() - start)
    return statistics.median(samples) / 1000


def overheads(n_reads: int, n_writes: int) -> list[tuple[str, float, str]]:
    folder = Path(tempfile.mkdtemp(prefix="andon-bench-"))
    db = folder / "andon.db"
    prepare(f"sqlite:///{db}", None)
    a = Andon.local(db, actor="bench", spool_dir=folder / "spool")
    store: dict[str, str] = {}

    def read(key: str) -> str | None:
        return store.get(key)

    def write(key: str, value: str) -> None:
        store[key] = value

    guarded_read = a.tool("bench", "kb.read")(read)
    guarded_write = a.tool("bench", "crm.update")(write)
    request = ActionRequest(
        workflow="bench", tool="crm.update", actor="bench", args={"key": "k", "value": "v"}, confidence=0.99
    )
    rows = []
    with a.run("bench", input="bench") as run:
        run.model_call(output="go", confidence=0.99)
        plain_read = median_us(lambda: read("k"), n_reads)
        rows.append(("unguarded read call", plain_read, ""))
        rows.append(
            ("guarded read: overhead", median_us(lambda: guarded_read("k"), n_reads) - plain_read, "≤ 20 µs")
        )
        a.flush(30)
        plain_write = median_us(lambda: write("k", "v"), n_reads)
        rows.append(("unguarded write call", plain_write, ""))
        rows.append(
            (
                "write decision, durable (ledger + reservation)",
                median_us(lambda: a.service.decide(request), n_writes),
                "≤ 1 ms",
            )
        )
        engine = a.service.engine  # type: ignore[attr-defined]

        def ledger_only() -> None:
            with engine.begin() as conn:
                append(conn, [Event(kind="note", actor="bench", payload={"text": "x"}, workflow="bench")])

        rows.append(
            ("  of which: one ledger append in its own transaction", median_us(ledger_only, n_writes), "")
        )
        rows.extend(redaction_rows(engine, n_reads))
        rows.append(
            (
                "guarded write: overhead (decide, run, outcome)",
                median_us(lambda: guarded_write("k", "v"), n_writes) - plain_write,
                "",
            )
        )
    a.close()
    return rows


def redaction_rows(engine: sa.Engine, n: int) -> list[tuple[str, float, str]]:
    """The redactor pass every ledger write makes: a decision (a fresh action id each) and a model call."""
    with engine.connect() as conn:
        redactor = ledger_redactor(conn)
    decisions = iter(
        [
            {"action_id": f"act-{uuid.uuid4().hex}", "tool": "crm.update", "effect": "write",
             "decision": "allow", "reason": "autonomous within limits", "rule": "autonomy:autonomous",
             "autonomy": "autonomous", "confidence": 0.99, "args": {"key": "k", "value": "v"},
             "approval_id": None, "fallback": None, "versions": {"prompt:triage": "v3"}}
            for _ in range(n + 200)
        ]
    )  # fmt: skip
    model_call = {
        "prompt_version": "v3",
        "model": "gpt-4.1-mini",
        "input": "Ticket from dana@customer.example: please call me on +44 20 7946 0001 about my refund",
        "output": {"label": "refund", "reply": "We will call you today."},
        "confidence": 0.91,
    }
    decision_us = median_us(lambda: redactor.redact(next(decisions)), n)
    model_call_us = median_us(lambda: redactor.redact(model_call), n)
    return [
        ("redaction of one decision payload (every write)", decision_us, "a few µs"),
        ("redaction of a model call with an e-mail and a phone", model_call_us, ""),
    ]


def worker(url: str, schema: str, spool: str, threads: int, attempts: int, start_at: float) -> None:
    a = Andon.local(
        url, schema=None if schema == "-" else schema, spool_dir=spool, lock_timeout=60, actor="runaway"
    )
    executed = 0
    lock = threading.Lock()

    @a.tool("bench", "crm.limited")
    def limited(n: int) -> None:
        nonlocal executed
        with lock:
            executed += 1

    def hammer() -> None:
        with a.run("bench") as run:
            run.model_call(output="x", confidence=0.99)
            for n in range(attempts):
                with contextlib.suppress(Denied):
                    limited(n)

    pool = [threading.Thread(target=hammer) for _ in range(threads)]
    while time.time() < start_at:
        time.sleep(0.001)
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    a.close()
    print(json.dumps({"executed": executed}))


def overshoot(url: str, schema: str | None, attempts: int) -> tuple[int, int, float]:
    """(executions beyond LIMIT, attempts, seconds) for 32 threads x 2 processes."""
    prepare(url, schema)
    start_at = time.time() + 3
    spool = tempfile.mkdtemp(prefix="andon-bench-spool-")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                url,
                schema or "-",
                f"{spool}/{p}",
                "32",
                str(attempts),
                str(start_at),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for p in range(2)
    ]
    executed = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        executed += json.loads(out.strip().splitlines()[-1])["executed"]
    return executed - LIMIT, 2 * 32 * attempts, time.time() - start_at


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer calls")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        url, schema, spool, threads, attempts, start_at = args.worker
        worker(url, schema, spool, int(threads), int(attempts), float(start_at))
        return
    n_reads, n_writes, attempts = (5_000, 300, 4) if args.quick else (50_000, 2_000, 8)
    rows = [
        (label, f"{value:,.1f} µs", target, ratio_to(value, target))
        for label, value, target in overheads(n_reads, n_writes)
    ]

    folder = tempfile.mkdtemp(prefix="andon-bench-limits-")
    extra, tried, seconds = overshoot(f"sqlite:///{folder}/andon.db", None, attempts)
    rows.append(
        (
            f"limit overshoot, SQLite ({tried} attempts, limit {LIMIT}, {seconds:.1f}s)",
            str(extra),
            "0",
            "met" if extra == 0 else "NOT met",
        )
    )
    if not args.no_postgres:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(POSTGRES_URL)
        try:
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            extra, tried, seconds = overshoot(POSTGRES_URL, schema, attempts)
            rows.append(
                (
                    f"limit overshoot, PostgreSQL ({tried} attempts, limit {LIMIT}, {seconds:.1f}s)",
                    str(extra),
                    "0",
                    "met" if extra == 0 else "NOT met",
                )
            )
        except sa.exc.OperationalError as exc:
            rows.append(("limit overshoot, PostgreSQL", f"skipped: {exc.orig}", "0", "-"))
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"andon control bench ({'quick' if args.quick else 'full'}; local mode, SQLite WAL)")
    for column in ("measure", "median / count", "target", "ratio to target"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    print("ratio: target / measured; above 1 meets the target")


def ratio_to(micros: float, target: str) -> str:
    """``target / micros`` for a target such as ``≤ 20 µs`` or ``≤ 1 ms``; "-" for none."""
    found = re.fullmatch(r"≤ ([\d.]+) (µs|ms)", target)
    if found is None or micros <= 0:
        return "-"
    limit = float(found[1]) * (1000 if found[2] == "ms" else 1)
    return f"{limit / micros:.2f}"


if __name__ == "__main__":
    main()
