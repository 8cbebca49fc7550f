"""Console benchmark: audit, runbook, overview, workflow and approval pages over 1M events (target <= 300 ms).

    python bench/console.py                      # 1M events on SQLite
    python bench/console.py --events 200000      # smaller
    python bench/console.py --postgres           # PostgreSQL too ($ANDON_BENCH_POSTGRES_URL)

Fills a fresh store (events appended in batches through ``andon.ledger.log.append``, one signed
checkpoint at the end), then requests each page through the in-process ASGI client with a viewer
key and prints the median and p95 of ``--repeat`` requests per page. The filters are chosen to be
hard: a rare kind, one run among thousands, a one-hour window in the middle, a page deep in the log.
The control pages get one executed action per decision event (250k for 1M events), all finished in
the last hour so the actions-per-minute chart counts ~50k of them per workflow, 200 approvals waiting
and a few switches.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from andon.ledger.checkpoint import write_checkpoint
from andon.ledger.events import Event
from andon.ledger.keys import signing_key
from andon.ledger.log import append
from andon.runbook.load import load
from andon.runbook.revisions import apply_runbook
from andon.server import apikeys
from andon.server.app import create_app
from andon.server.settings import Settings
from andon.store import create_engine, migrate
from andon.store.tables import control_actions, control_approvals, control_switches

POSTGRES_URL = os.environ.get("ANDON_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "support-triage.yaml"
WORKFLOWS = ("support-triage", "quote-estimates", "refunds", "kb-answers", "crm-sync")
BASE = datetime(2026, 11, 1, tzinfo=UTC)
STEP = timedelta(milliseconds=50)
TARGET_MS = 300.0


def kind_of(i: int) -> str:
    if i % 100 == 0:
        return "approval"  # the rare kind: 1% of events
    return ("model_call", "retrieval", "decision", "action_outcome")[i % 4]


def fill(url: str, schema: str | None, count: int, key_dir: Path) -> None:
    engine = create_engine(url, schema=schema)
    migrate(engine)
    batch = 10_000
    started = time.perf_counter()
    for start in range(0, count, batch):
        events = [
            Event(
                kind=kind_of(i),
                actor=f"agent-{i % 7}",
                workflow=WORKFLOWS[i % len(WORKFLOWS)],
                run_id=f"run-{i // 50}",
                payload={"ticket": f"T-{i}", "queue": "billing", "confidence": 0.91},
                time=BASE + STEP * i,
            )
            for i in range(start, min(start + batch, count))
        ]
        with engine.begin() as conn:
            append(conn, events)
        done = start + len(events)
        if done % (batch * 20) and done != count:
            continue  # a progress line every 20 batches
        print(
            f"\r  filled {done:,}/{count:,} ({done / (time.perf_counter() - started):,.0f}/s)",
            end="",
            file=sys.stderr,
        )
    print(file=sys.stderr)
    with engine.begin() as conn:
        write_checkpoint(conn, signing_key(key_dir))
        apply_runbook(conn, load(EXAMPLE).runbook, source=EXAMPLE.read_text(), actor="bench")
    engine.dispose()


def fill_control(url: str, schema: str | None, count: int) -> None:
    """Executed actions (one per decision event) over the last hour, approvals waiting, switches."""
    engine = create_engine(url, schema=schema)
    now = datetime.now(UTC)
    actions = count // 4
    batch = 10_000
    for start in range(0, actions, batch):
        rows = []
        for i in range(start, min(start + batch, actions)):
            finished = now - timedelta(seconds=3600 * (actions - i) / actions)
            rows.append(
                {
                    "id": f"act-{i:012d}",
                    "workflow": WORKFLOWS[i % len(WORKFLOWS)],
                    "tool": "crm.update_tier",
                    "effect": "write",
                    "run_id": f"run-{i // 12}",
                    "actor": "agent",
                    "outcome": "allow",
                    "rule": "autonomy:autonomous",
                    "reason": "allowed",
                    "args": {"account_id": f"A-{i}"},
                    "versions": {},
                    "confidence": 0.9,
                    "decided_at": finished,
                    "status": "succeeded",
                    "finished_at": finished,
                    "before": {"tier": "standard"},
                    "after": {"tier": "gold"},
                    "ledger_index": i * 4 + 2,
                }
            )
        with engine.begin() as conn:
            conn.execute(control_actions.insert(), rows)
    with engine.begin() as conn:
        conn.execute(
            control_approvals.insert(),
            [
                {
                    "id": f"apr-bench-{i}",
                    "action_id": f"act-{i:012d}",
                    "workflow": "support-triage",
                    "tool": "crm.update_tier",
                    "requester": "agent",
                    "rule": "approval:always",
                    "reason": "needs a person",
                    "context": {
                        "input": "ticket",
                        "confidence": 0.6,
                        "change": {"before": {"tier": "standard"}, "after": {"tier": "gold"}},
                    },
                    "status": "pending" if i < 200 else "approved",
                    "created_at": now - timedelta(minutes=i),
                    "expires_at": now + timedelta(days=1),
                    "decided_at": None if i < 200 else now,
                    "decided_by": None if i < 200 else "lead",
                }
                for i in range(0, 2000, 5)
            ],
        )
        switches = []
        for i in range(1, 10):
            switches.append(
                {
                    "id": f"sw-bench-{i}",
                    "kind": "block_tool",
                    "workflow": "support-triage",
                    "target": "crm.update_tier",
                    "actor": "ops",
                    "reason": "bench",
                    "created_at": now - timedelta(minutes=3 * i),
                    "cleared_at": now - timedelta(minutes=3 * i - 1),
                    "cleared_by": "ops",
                    "cleared_reason": "bench",
                }
            )
        conn.execute(control_switches.insert(), switches)
    engine.dispose()


def pages(count: int) -> list[tuple[str, str]]:
    middle = BASE + STEP * (count // 2)
    window = {
        "since": middle.strftime("%Y-%m-%dT%H:%M:%S"),
        "until": (middle + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return [
        ("explorer, newest", "/console/audit"),
        ("explorer, one workflow", "/console/audit?workflow=refunds"),
        ("explorer, rare kind (1%)", "/console/audit?kind=approval"),
        ("explorer, workflow + rare kind", "/console/audit?workflow=support-triage&kind=approval"),
        ("explorer, no match (worst case)", "/console/audit?workflow=refunds&kind=approval"),
        ("explorer, one run", f"/console/audit?run_id=run-{count // 100}"),
        ("explorer, one-hour window", f"/console/audit?since={window['since']}&until={window['until']}"),
        ("explorer, deep page", f"/console/audit?cursor={count // 2}"),
        ("event + inclusion proof", f"/console/audit/{count // 3}"),
        ("runbook page", "/console/runbook"),
        ("GET /v1/events?limit=100", "/v1/events?limit=100"),
        ("overview", "/console/"),
        ("GET /v1/overview", "/v1/overview"),
        ("workflow page (chart, actions)", "/console/workflows/support-triage"),
        ("GET /v1/workflows/{id}/activity", "/v1/workflows/support-triage/activity"),
        ("approval queue (200 waiting)", "/console/approvals"),
        ("approval page (similar decisions)", "/console/approvals/apr-bench-0"),
    ]


async def measure(url: str, schema: str | None, count: int, repeat: int) -> list[tuple[str, float, float]]:
    app = create_app(Settings(database_url=url, database_schema=schema))
    out = []
    async with app.router.lifespan_context(app):
        with app.state.engine.begin() as conn:
            key = apikeys.create_key(conn, name="bench", role="viewer", created_by="bench").secret
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            for label, path in pages(count):
                times = []
                for _ in range(repeat + 1):
                    started = time.perf_counter()
                    response = await client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (path, response.status_code, response.text[:300])
                times = times[1:]  # the first request warms caches
                p95 = sorted(times)[max(0, int(len(times) * 0.95) - 1)]
                out.append((label, statistics.median(times), p95))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="also measure on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite (with --postgres)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="andon-bench-console-") as folder:
        os.environ["ANDON_DATA_DIR"] = folder
        stores: list[tuple[str, str, str | None]] = []
        if not args.no_sqlite:
            stores.append(("sqlite", f"sqlite:///{folder}/andon.db", None))
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        if args.postgres:
            stores.append(("postgres", POSTGRES_URL, schema))
            admin = sa.create_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            rows = []
            for name, url, db_schema in stores:
                print(f"{name}: filling {args.events:,} events", file=sys.stderr)
                fill(url, db_schema, args.events, Path(folder))
                fill_control(url, db_schema, args.events)
                if name == "postgres":
                    with sa.create_engine(url).begin() as conn:
                        conn.execute(sa.text(f'ANALYZE "{schema}".ledger_events'))
                        conn.execute(sa.text(f'ANALYZE "{schema}".control_actions'))
                for label, median, p95 in asyncio.run(measure(url, db_schema, args.events, args.repeat)):
                    rows.append((name, label, median, p95))
        finally:
            if args.postgres:
                with admin.begin() as conn:
                    conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    print(
        f"\nconsole pages over {args.events:,} events "
        f"({args.repeat} requests each; target <= {TARGET_MS:.0f} ms)"
    )
    print(f"{'db':<9} {'page':<32} {'median ms':>10} {'p95 ms':>8} {'ratio':>6}  meets")
    for name, label, median, p95 in rows:
        ratio = TARGET_MS / p95 if p95 else float("inf")
        verdict = "yes" if p95 <= TARGET_MS else "NO"
        print(f"{name:<9} {label:<32} {median:>10.1f} {p95:>8.1f} {ratio:>6.1f}  {verdict}")
    worst = max(rows, key=lambda row: row[3])
    print(
        f"slowest page: {worst[0]} {worst[1]}, p95 {worst[3]:.1f} ms; "
        f"ratio to the {TARGET_MS:.0f} ms target {TARGET_MS / worst[3]:.1f} (above 1 meets it)"
    )


if __name__ == "__main__":
    main()
