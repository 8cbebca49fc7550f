"""Detection to containment: a runaway write loop against the incident watch, on SQLite and PostgreSQL.

    python bench/incidents.py              # 5 runs per database and pace
    python bench/incidents.py --runs 2 --no-postgres

Each run: a fresh store, a workflow declaring ``LIMIT`` writes a minute, the incident watch running in
this process exactly as ``andon serve`` runs it (a thread following the ledger with the detectors), and
an agent (``Andon.local``, another engine) calling a guarded write in a loop until it is refused. The
write-rate detector fires at 80 % of the declared limit (its default ``limit_share``); the incident's
automatic containment (``freeze_writes``) commits in the same transaction that opens the incident.

Measured per run, from the ledger and the store:

- trigger → incident opened: the triggering decision event's time to the incident's ``opened_at``
  (the same transaction pulls the switch);
- trigger → agent refused: to the first decision denied by the switch (what the agent experiences);
- writes executed before containment, as a share of the declared limit (target: below 1.0 — the loop
  is stopped by the incident before the rate limit ever has to).

Prints one table with medians and maxima and the ratio of each to its target.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from andon.errors import Denied
from andon.incidents.service import IncidentDesk
from andon.incidents.watch import IncidentWatch
from andon.ledger.keys import Signer
from andon.ledger.log import read_event
from andon.runbook.revisions import apply_runbook
from andon.runbook.schema import Runbook
from andon.sdk.client import Andon
from andon.store import create_engine, migrate
from andon.store.tables import control_actions, incidents

POSTGRES_URL = os.environ.get("ANDON_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
LIMIT = 600  # declared writes per minute
TARGET_SECONDS = 1.0
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
    "incident_classes": [
        {
            "id": "wrong_system_update",
            "default_severity": "sev1",
            "owner_role": "technical_owner",
            "containment": ["freeze_writes"],
        },
    ],
    "workflows": [
        {
            "id": "bench",
            "purpose": "Benchmark",
            "owners": {"business": "lead", "technical": "eng"},
            "model": {"provider": "openai", "name": "gpt-4.1-mini"},
            "tools": [{"name": "crm.update", "effect": "write", "undo": "crm.restore"}],
            "autonomy": "autonomous",
            "limits": {"rate": {"workflow": f"{LIMIT}/min"}},
            "detectors": {"write_rate": {"max": 100000}},
            "recovery": "Roll back.",
        }
    ],
}


def _store(database: str, folder: Path) -> tuple[str, str | None]:
    if database == "sqlite":
        return f"sqlite:///{folder / 'andon.db'}", None
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    return POSTGRES_URL, schema


def _drop(schema: str | None) -> None:
    if schema is None:
        return
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def one_run(database: str, pace: float | None) -> dict[str, float]:
    """One runaway loop; ``pace`` is seconds between writes (None: as fast as the store allows)."""
    with tempfile.TemporaryDirectory(prefix="andon-bench-") as tmp:
        folder = Path(tmp)
        url, schema = _store(database, folder)
        engine = create_engine(url, schema=schema)
        try:
            migrate(engine)
            with engine.begin() as conn:
                apply_runbook(
                    conn, Runbook.model_validate(copy.deepcopy(RUNBOOK)), source="bench", actor="bench"
                )
            desk = IncidentDesk(engine, signer=Signer.generate(), directory=folder / "evidence")
            agent = Andon.local(url, schema=schema, spool_dir=folder / "spool", actor="svc-bench")

            @agent.tool("bench", "crm.update")
            def update(record: str) -> str:
                return record

            stop = threading.Event()
            with IncidentWatch(engine, desk=desk, poll=0.05, escalate_every=3600) as watch:
                n = 0
                try:
                    while not stop.is_set() and n < 10 * LIMIT:
                        update(f"rec-{n}")
                        n += 1
                        if pace:
                            time.sleep(pace)
                except Denied as exc:
                    refused_rule = exc.rule
                else:
                    refused_rule = "none"
                deadline = time.monotonic() + 5
                while not watch.handled and time.monotonic() < deadline:
                    time.sleep(0.01)
            agent.close()
            handled = watch.handled[0]
            with engine.connect() as conn:
                trigger = read_event(conn, max(handled.signal.evidence))
                assert trigger is not None
                opened_at = conn.execute(sa.select(incidents.c.opened_at)).scalar_one()
                t = control_actions.c
                executed = conn.execute(
                    sa.select(sa.func.count()).where(t.status == "succeeded")
                ).scalar_one()
                refused_at = conn.execute(
                    sa.select(sa.func.min(t.decided_at)).where(
                        t.status == "denied", t.rule == "writes_frozen"
                    )
                ).scalar_one()
            if refused_rule != "writes_frozen" or refused_at is None:
                raise RuntimeError(
                    f"the loop was stopped by {refused_rule}, not by the incident's containment"
                )
            return {
                "opened": (opened_at - trigger.time).total_seconds(),
                "refused": (refused_at - trigger.time).total_seconds(),
                "share": executed / LIMIT,
                "executed": float(executed),
            }
        finally:
            engine.dispose()
            _drop(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    databases = ["sqlite"] if args.no_postgres else ["sqlite", "postgres"]
    paces: list[tuple[str, float | None]] = [("full speed", None), ("20 writes/s", 0.05)]
    rows: list[list[str]] = []
    for database in databases:
        for label, pace in paces:
            runs = [one_run(database, pace) for _ in range(args.runs)]
            for key, name, target in (
                ("opened", "trigger → incident opened + switch (s)", TARGET_SECONDS),
                ("refused", "trigger → agent refused (s)", TARGET_SECONDS),
                ("share", f"writes before containment / limit {LIMIT}", 1.0),
            ):
                values = [r[key] for r in runs]
                median, worst = statistics.median(values), max(values)
                rows.append(
                    [
                        database,
                        label,
                        name,
                        f"{median:.3f}",
                        f"{worst:.3f}",
                        f"{target:g}",
                        f"{target / worst:.2f}" if worst else "inf",
                    ]
                )
    header = ["store", "loop", "measure", "median", "max", "target", "ratio (target/max)"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"runaway write loop vs the incident watch ({args.runs} runs each; declared limit {LIMIT}/min)")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    print("ratio: above 1 meets the target (the share's target: fewer writes than the declared limit)")


if __name__ == "__main__":
    main()
