"""The store goes away mid-run: writes fail closed, reads continue, spooled events arrive later."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from andon.control.service import StoreControl
from andon.errors import Denied
from andon.ledger.log import read_events
from andon.sdk.client import Andon
from andon.store import create_engine, migrate
from control.runbooks import apply

from .conftest import Store
from .crm import Crm, guard_crm

FALLBACK = "Tier-1 human triage (contact: support-lead)"


def _events(operator: StoreControl) -> list[tuple[str, dict[str, object]]]:
    operator.engine.dispose()
    with operator.engine.connect() as conn:
        return [(e.kind, e.payload) for e in read_events(conn)]


def _agent_during_outage(a: Andon, crm: Crm) -> None:
    """What the agent does while the store is away: reads work, the write is refused with the fallback."""
    read_ticket, update_tier = guard_crm(a, crm)
    with a.run("support-triage", input="ticket during outage") as run:
        run.retrieval(source="kb", query="outage", documents=["kb-1"])
        run.model_call(output="spooled answer", confidence=0.9)
        assert read_ticket("T-9")["id"] == "T-9"
        with pytest.raises(Denied) as denied:
            update_tier("acct-1", "gold")
    assert denied.value.rule == "fail_closed"
    assert denied.value.fallback == FALLBACK
    assert crm.writes == 0
    a.flush()


@contextmanager
def store_locked(store: Store) -> Iterator[None]:
    """Another process holds the store's write lock until the block ends."""
    url, schema = store
    if schema is None:
        path = sa.make_url(url).database
        assert path
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    engine = create_engine(url, schema=schema)
    conn = engine.connect()
    conn.execute(sa.text("LOCK TABLE ledger_head, control_epoch IN ACCESS EXCLUSIVE MODE"))
    try:
        yield
    finally:
        conn.rollback()
        conn.close()
        engine.dispose()


def test_store_locked_mid_run_writes_fail_closed_reads_continue_spool_arrives_later(
    make_client: Callable[..., Andon], operator: StoreControl, store: Store
) -> None:
    a = make_client(lock_timeout=0.3)
    crm = Crm()
    with store_locked(store):
        _agent_during_outage(a, crm)
        assert len(a.spool) >= 2  # the read events and the refused decision wait on disk
    assert a.deliver_spool() >= 2
    assert len(a.spool) == 0
    events = _events(operator)
    assert ("model_call", "spooled answer") in [(k, p.get("output")) for k, p in events]
    refused = [p for k, p in events if k == "decision" and p.get("rule") == "fail_closed"]
    assert len(refused) == 1 and refused[0]["tool"] == "crm.update_tier"
    assert a.deliver_spool() == 0  # delivered once; nothing is appended twice
    assert len(_events(operator)) == len(events)


def test_fail_open_workflows_run_the_write_and_log_it(
    make_client: Callable[..., Andon], operator: StoreControl, store: Store, reapply: Callable[..., int]
) -> None:
    reapply(fail_closed=False)
    a = make_client(lock_timeout=0.3)
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    with store_locked(store):
        with a.run("support-triage") as run:
            run.model_call(output="x", confidence=0.9)
            assert update_tier("acct-1", "gold") == {"account_id": "acct-1", "tier": "gold"}
        a.flush()
    a.deliver_spool()
    events = _events(operator)
    assert [p["rule"] for k, p in events if k == "decision" and p.get("tool") == "crm.update_tier"] == [
        "fail_open"
    ]
    assert any(k == "action_outcome" and p.get("tool") == "crm.update_tier" for k, p in events)


def test_sqlite_store_deleted_mid_run_then_restored(tmp_path: Path, sqlite_url: str) -> None:
    """SQLite only: a PostgreSQL database cannot be deleted from under a client (the lock test covers it)."""
    engine = create_engine(sqlite_url)
    migrate(engine)
    apply(engine)
    operator = StoreControl(engine)
    path = Path(sa.make_url(sqlite_url).database or "")
    a = Andon.local(path, actor="svc-triage", spool_dir=tmp_path / "spool", lock_timeout=0.3)
    try:
        crm = Crm()
        _, update_tier = guard_crm(a, crm)
        with a.run("support-triage") as run:
            run.model_call(output="before", confidence=0.9)
            update_tier("acct-0", "gold")
        a.flush()
        operator.engine.dispose()
        backup = tmp_path / "backup.db"
        with sqlite3.connect(path) as src, sqlite3.connect(backup) as dst:
            src.backup(dst)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

        crm2 = Crm()
        _agent_during_outage(a, crm2)
        assert not path.exists()  # nothing recreated an empty store behind the operator's back
        assert a.deliver_spool() == 0 and len(a.spool) >= 2

        shutil.copy(backup, path)  # the operator restores the store
        assert a.deliver_spool() >= 2 and len(a.spool) == 0
        events = _events(operator)
        assert ("model_call", "spooled answer") in [(k, p.get("output")) for k, p in events]
        with a.run("support-triage") as run:  # and writes are decided again
            run.model_call(output="after", confidence=0.9)
            update_tier("acct-2", "gold")
        assert crm.tiers == {"acct-0": "gold", "acct-2": "gold"}
    finally:
        a.close()
        engine.dispose()


def test_the_sdk_s_own_failures_never_reach_the_agent(make_client: Callable[..., Andon]) -> None:
    a = make_client()
    crm = Crm()

    def broken_reader(account_id: str) -> dict[str, str]:
        raise RuntimeError("state reader bug")

    @a.tool("support-triage", "crm.update_tier", state=broken_reader)
    def update_tier(account_id: str, tier: str) -> str:
        crm.set(account_id, tier)
        return tier

    class Unserialisable:
        def __repr__(self) -> str:
            return "<thing>"

    done = threading.Event()
    with a.run("support-triage", input=Unserialisable()) as run:
        run.model_call(output=Unserialisable(), confidence=0.9)
        assert update_tier("acct-1", "gold") == "gold"
        done.set()
    assert a.flush()
    assert crm.tiers == {"acct-1": "gold"} and done.is_set()
    assert len(a.spool) == 0
