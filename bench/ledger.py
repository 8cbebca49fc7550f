"""Ledger benchmark: append throughput, verify throughput, proof latency, bundle export time.

    python bench/ledger.py --quick          # a few seconds, small sizes
    python bench/ledger.py                  # the issue's sizes (1M-event log for proofs)
    python bench/ledger.py --events 200000 --proof-size 1000000 --export-size 100000 --no-postgres

Prints one table: each figure, its target, and the ratio to the target (>= 1.0 meets it).
PostgreSQL is $ANDON_BENCH_POSTGRES_URL or the local test database; each run uses a fresh schema.
Events are built before timing starts: the figures are the ledger's cost, not the caller's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from andon.ledger.checkpoint import write_checkpoint
from andon.ledger.events import Event
from andon.ledger.evidence import export_bundle, verify_bundle
from andon.ledger.keys import signing_key
from andon.ledger.log import append, tree_size
from andon.ledger.tree import StoredTree
from andon.ledger.verify import verify_ledger
from andon.store import create_engine, migrate, reading

POSTGRES_URL = os.environ.get("ANDON_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class Row:
    what: str
    db: str
    value: float
    unit: str
    target: float | None = None
    lower_is_better: bool = False

    def ratio(self) -> str:
        if self.target is None or self.value == 0:
            return "-"
        ratio = self.target / self.value if self.lower_is_better else self.value / self.target
        return f"{ratio:.2f}"


def make_events(count: int, *, writer: int = 0) -> list[Event]:
    """Realistic small events: a model call with prompt version, input, output and confidence."""
    return [
        Event(
            kind="model_call",
            actor="svc-triage",
            workflow="support-triage",
            run_id=f"run-{writer}-{i // 20}",
            payload={
                "model": "gpt-4.1-mini",
                "prompt_version": "triage-system@v3",
                "input": f"Customer {i} asks why the refund for order {100000 + i} has not arrived",
                "output": "route: billing; priority: normal",
                "confidence": 0.93,
            },
        )
        for i in range(count)
    ]


def run_appends(
    url: str, schema: str | None, *, count: int, batch: int, start_at: float = 0.0
) -> tuple[float, float]:
    """Append ``count`` events in transactions of ``batch``; returns (start, end) wall-clock times.

    A writer waits until ``start_at`` (wall clock) once its engine and events are ready, so that
    concurrent writers start together and process start-up is not counted as append time.
    """
    engine = create_engine(url, schema=schema)
    with engine.connect() as conn:
        tree_size(conn)  # open the pooled connection before the clock starts
    events = make_events(count, writer=os.getpid())
    if start_at > time.time():
        time.sleep(start_at - time.time())
    start = time.time()
    for first in range(0, count, batch):
        with engine.begin() as conn:
            append(conn, events[first : first + batch])
    end = time.time()
    engine.dispose()
    return start, end


def append_rate(url: str, schema: str | None, *, count: int, batch: int, writers: int) -> float:
    """Events per second for ``writers`` processes appending ``count`` events in all."""
    if writers == 1:
        start, end = run_appends(url, schema, count=count, batch=batch)
        return count / (end - start)
    per_writer = count // writers
    start_at = time.time() + 2.0  # time enough for every writer process to import and get ready
    args = [
        sys.executable,
        __file__,
        "--worker",
        url,
        schema or "-",
        str(per_writer),
        str(batch),
        str(start_at),
    ]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(writers)]
    spans = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"bench writer failed with exit code {proc.returncode}")
        spans.append(json.loads(out))
    return per_writer * writers / (max(s[1] for s in spans) - min(s[0] for s in spans))


@contextmanager
def store(kind: str, workdir: Path) -> Iterator[tuple[str, str | None]]:
    """A fresh, migrated store: a new SQLite file or a new PostgreSQL schema (dropped afterwards)."""
    if kind == "sqlite":
        path = workdir / f"{uuid.uuid4().hex}.db"
        url = f"sqlite:///{path}"
        engine = create_engine(url)
        migrate(engine)
        engine.dispose()
        yield url, None
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        engine = create_engine(POSTGRES_URL, schema=schema)
        migrate(engine)
        engine.dispose()
        yield POSTGRES_URL, schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def bench_appends(kind: str, workdir: Path, args: argparse.Namespace, rows: list[Row]) -> None:
    target = 50_000.0 if kind == "sqlite" else 20_000.0
    for writers in (1, args.writers):
        with store(kind, workdir) as (url, schema):
            single = append_rate(url, schema, count=args.single, batch=1, writers=writers)
            rows.append(Row(f"append, 1 event/transaction, {writers} writer(s)", kind, single, "events/s"))
        with store(kind, workdir) as (url, schema):
            batched = append_rate(url, schema, count=args.events, batch=args.batch, writers=writers)
            rows.append(
                Row(
                    f"append, {args.batch}/transaction, {writers} writer(s)",
                    kind,
                    batched,
                    "events/s",
                    target,
                )
            )
            if writers == 1:
                bench_verify(url, schema, kind, workdir, rows)


def bench_verify(url: str, schema: str | None, kind: str, workdir: Path, rows: list[Row]) -> None:
    engine = create_engine(url, schema=schema)
    signer = signing_key(workdir / "keys")
    with engine.begin() as conn:
        write_checkpoint(conn, signer)
    with reading(engine) as conn:
        start = time.perf_counter()
        report = verify_ledger(conn, verifier=signer.verifier)
        elapsed = time.perf_counter() - start
    engine.dispose()
    if not report.ok:
        raise RuntimeError(f"the benchmark ledger does not verify: {report.problems}")
    rows.append(Row(f"verify ({report.leaves} events)", kind, report.leaves / elapsed, "events/s", 300_000.0))


def fill(url: str, schema: str | None, count: int) -> None:
    engine = create_engine(url, schema=schema)
    with engine.connect() as conn:
        have = tree_size(conn)
    step = 20_000
    for first in range(have, count, step):
        with engine.begin() as conn:
            append(conn, make_events(min(step, count - first)))
    engine.dispose()


def bench_proofs(kind: str, workdir: Path, size: int, rows: list[Row]) -> None:
    with store(kind, workdir) as (url, schema):
        fill(url, schema, size)
        engine = create_engine(url, schema=schema)
        rng = random.Random(7)
        timings: list[float] = []
        consistency: list[float] = []
        with engine.connect() as conn:
            tree = StoredTree(conn)
            for _ in range(200):
                index = rng.randrange(size)
                start = time.perf_counter()
                tree.inclusion_proof(index, size)
                timings.append(time.perf_counter() - start)
            for _ in range(50):
                size1 = rng.randrange(1, size)
                start = time.perf_counter()
                tree.consistency_proof(size1, size)
                consistency.append(time.perf_counter() - start)
        engine.dispose()
    timings.sort()
    rows.append(
        Row(
            f"inclusion proof, median ({size} events)",
            kind,
            statistics.median(timings) * 1000,
            "ms",
            5.0,
            True,
        )
    )
    rows.append(
        Row(
            f"inclusion proof, p99 ({size} events)",
            kind,
            timings[int(len(timings) * 0.99)] * 1000,
            "ms",
            5.0,
            True,
        )
    )
    rows.append(
        Row(f"consistency proof, median ({size} events)", kind, statistics.median(consistency) * 1000, "ms")
    )


def bench_export(kind: str, workdir: Path, size: int, rows: list[Row]) -> None:
    with store(kind, workdir) as (url, schema):
        fill(url, schema, size)
        engine = create_engine(url, schema=schema)
        signer = signing_key(workdir / "keys")
        out = workdir / f"bundle-{kind}.zip"
        start = time.perf_counter()
        with engine.begin() as conn:
            summary = export_bundle(conn, out_path=out, signer=signer)
        elapsed = time.perf_counter() - start
        engine.dispose()
    start = time.perf_counter()
    report = verify_bundle(out)
    verify_elapsed = time.perf_counter() - start
    if not report.ok:
        raise RuntimeError(f"the exported bundle does not verify: {report.problems}")
    rows.append(Row(f"export bundle ({summary.events} events)", kind, elapsed, "s", None, True))
    rows.append(
        Row(f"verify bundle offline ({summary.events} events)", kind, verify_elapsed, "s", None, True)
    )


def postgres_available() -> bool:
    try:
        probe = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with probe.connect() as conn:
            conn.execute(sa.text("select 1"))
        probe.dispose()
        return True
    except Exception:  # any failure means "not here"; the table says it was skipped
        return False


def print_table(rows: list[Row], elapsed: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"andon ledger benchmark ({elapsed:.0f} s, {os.cpu_count()} cores)")
    for name in ("measure", "db", "value", "unit", "target", "ratio"):
        table.add_column(name, justify="left" if name in ("measure", "db", "unit") else "right")
    for row in rows:
        value = f"{row.value:,.0f}" if row.value >= 100 else f"{row.value:.2f}"
        target = (
            "-"
            if row.target is None
            else (f"<= {row.target:g}" if row.lower_is_better else f">= {row.target:,.0f}")
        )
        table.add_row(row.what, row.db, value, row.unit, target, row.ratio())
    Console(width=140).print(table)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        url, schema, count, batch = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        span = run_appends(
            url, None if schema == "-" else schema, count=count, batch=batch, start_at=float(sys.argv[6])
        )
        print(json.dumps(span))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes; finishes in a few seconds")
    parser.add_argument("--events", type=int, default=200_000, help="events per batched-append run")
    parser.add_argument("--single", type=int, default=3_000, help="events per one-per-transaction run")
    parser.add_argument("--batch", type=int, default=1_000, help="events per transaction when batching")
    parser.add_argument("--writers", type=int, default=4, help="writer processes in the concurrent runs")
    parser.add_argument("--proof-size", type=int, default=1_000_000, help="log size for proof timing")
    parser.add_argument("--export-size", type=int, default=100_000, help="events in the exported bundle")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    if args.quick:
        args.events, args.single, args.proof_size, args.export_size = 10_000, 200, 10_000, 2_000
    kinds = ["sqlite"]
    if not args.no_postgres:
        if postgres_available():
            kinds.append("postgres")
        else:
            print(f"PostgreSQL not reachable at {POSTGRES_URL}; SQLite only", file=sys.stderr)
    rows: list[Row] = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="andon-bench-") as tmp:
        workdir = Path(tmp)
        for kind in kinds:
            bench_appends(kind, workdir, args, rows)
        bench_proofs("sqlite", workdir, args.proof_size, rows)
        for kind in kinds:
            bench_export(kind, workdir, args.export_size, rows)
    print_table(rows, time.perf_counter() - began)


if __name__ == "__main__":
    main()
