"""``GET /v1/stream`` on a real port: switch and version changes, resume, heartbeats, LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from andon.control.service import StoreControl
from andon.server.feed import ControlFeed
from andon.server.settings import Settings
from andon.store import create_engine, migrate
from control.runbooks import apply
from live_server import LiveServer

WAIT = 10.0  # generous: the machine may be busy; speed is measured in bench/server.py


@pytest.fixture
def settings(db: tuple[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ANDON_DATA_DIR", str(tmp_path / "data"))
    url, schema = db
    return Settings(database_url=url, database_schema=schema)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    migrate(engine)
    apply(engine)
    engine.dispose()
    srv = LiveServer(settings)
    yield srv
    srv.stop()


class Events:
    """An SSE client on a thread: parsed events (and heartbeats) arrive on ``queue``."""

    def __init__(self, url: str, token: str, last_id: str | None = None) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue()
        headers = {"Authorization": f"Bearer {token}"}
        if last_id is not None:
            headers["Last-Event-ID"] = last_id
        self.client = httpx.Client(timeout=httpx.Timeout(5, read=60))
        self.response = self.client.send(
            self.client.build_request("GET", url + "/v1/stream", headers=headers), stream=True
        )
        assert self.response.status_code == 200, self.response.read()
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event: dict[str, Any] = {}
        try:
            for line in self.response.iter_lines():
                if line == "":
                    if event:
                        self.queue.put(event)
                    event = {}
                elif line.startswith(":"):
                    self.queue.put({"heartbeat": line})
                else:
                    name, _, value = line.partition(": ")
                    event[name] = json.loads(value) if name == "data" else value
        except httpx.HTTPError:
            pass

    def next(self) -> dict[str, Any]:
        while True:
            item = self.queue.get(timeout=WAIT)
            if "heartbeat" not in item and "retry" not in item:
                return item

    def close(self) -> None:
        self.response.close()
        self.client.close()


def test_stream_sends_the_state_then_each_change_and_resumes(server: LiveServer) -> None:
    agent = server.key("agent", owner="svc-triage", workflows=["support-triage"])
    ops = {"Authorization": f"Bearer {server.key('responder', owner='ops-lead')}"}
    events = Events(server.url, agent)
    try:
        first = events.next()
        assert first["event"] == "control"
        assert first["data"] == {"epoch": first["data"]["epoch"], "revision": 1, "switches": []}
        assert first["id"] == f"{first['data']['epoch']}.1"

        pause = {"kind": "pause_workflow", "workflow": "support-triage", "reason": "bad prompt"}
        assert httpx.post(server.url + "/v1/switches", json=pause, headers=ops).status_code == 200
        paused = events.next()
        assert paused["data"]["epoch"] > first["data"]["epoch"]
        assert [(s["kind"], s["actor"], s["reason"]) for s in paused["data"]["switches"]] == [
            ("pause_workflow", "ops-lead", "bad prompt")
        ]
    finally:
        events.close()

    # Reconnecting with the last id it saw: nothing is repeated; the next change arrives.
    resumed = Events(server.url, agent, last_id=paused["id"])
    stale = Events(server.url, agent, last_id=first["id"])
    try:
        assert stale.next()["id"] == paused["id"]  # missed the pause while away: sent at once
        clear = {"workflow": "support-triage", "kinds": ["pause_workflow"], "reason": "fixed"}
        assert httpx.post(server.url + "/v1/switches/clear", json=clear, headers=ops).status_code == 200
        after = resumed.next()
        assert after["data"]["switches"] == [] and after["id"] != paused["id"]
    finally:
        resumed.close()
        stale.close()


def test_changes_made_elsewhere_on_the_store_reach_the_stream(server: LiveServer, settings: Settings) -> None:
    """The CLI, a local-mode SDK or another replica changes the store directly: the watcher sees it."""
    events = Events(server.url, server.key("viewer", owner="watcher"))
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    try:
        epoch = events.next()["data"]["epoch"]
        other = StoreControl(engine)
        other.publish_version(
            workflow="support-triage",
            kind="prompt",
            name="triage-system",
            content="v",
            actor="ml-eng",
            live=True,
        )
        assert events.next()["data"]["epoch"] > epoch
    finally:
        events.close()
        engine.dispose()


def test_a_snapshot_with_seconds_zero_and_a_key_needed(server: LiveServer) -> None:
    assert httpx.get(server.url + "/v1/stream").status_code == 401
    token = server.key("viewer", owner="script")
    response = httpx.get(server.url + "/v1/stream?seconds=0", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    blocks = [b for b in response.text.split("\n\n") if b.strip()]
    assert blocks[0] == "retry: 1000" and len(blocks) == 2
    lines = dict(line.split(": ", 1) for line in blocks[1].splitlines())
    assert lines["event"] == "control" and json.loads(lines["data"])["revision"] == 1


@pytest.mark.anyio
async def test_heartbeat_on_an_idle_stream(engine: Any) -> None:
    feed = ControlFeed(engine, heartbeat=0.05)
    await feed.start()
    try:
        follow = feed.follow(None)
        first = await anext(follow)
        assert first is not None and first.epoch == 0
        assert await anext(follow) is None  # nothing changed: a heartbeat
    finally:
        await feed.stop()


@pytest.mark.anyio
@pytest.mark.postgres
async def test_listen_notify_wakes_another_process_at_once(postgres_schema: tuple[str, str]) -> None:
    """Two engines stand for two server replicas: a change committed through one wakes the other's
    feed by NOTIFY (its poll is an hour, so nothing else could)."""
    url, schema = postgres_schema
    writer_engine = create_engine(url, schema=schema)
    migrate(writer_engine)
    apply(writer_engine)
    reader_engine = create_engine(url, schema=schema)
    feed = ControlFeed(reader_engine, poll_interval=3600)
    await feed.start()
    try:
        follow = feed.follow(None)
        before = await anext(follow)
        assert before is not None
        await asyncio.sleep(0.5)  # the listener thread is connected and listening
        await asyncio.to_thread(
            StoreControl(writer_engine).set_switch,
            kind="freeze_writes",
            workflow="support-triage",
            actor="ops-lead",
            reason="replica test",
        )
        after = await asyncio.wait_for(anext(follow), timeout=WAIT)
        assert after is not None and after.epoch > before.epoch
        assert [s["kind"] for s in after.switches] == ["freeze_writes"]
    finally:
        await feed.stop()
        writer_engine.dispose()
        reader_engine.dispose()


@pytest.mark.postgres
def test_two_servers_on_one_postgres_share_changes(
    postgres_schema: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pause pulled through replica A reaches a stream client of replica B."""
    monkeypatch.setenv("ANDON_DATA_DIR", str(tmp_path / "data"))
    url, schema = postgres_schema
    engine = create_engine(url, schema=schema)
    migrate(engine)
    apply(engine)
    engine.dispose()
    settings = Settings(database_url=url, database_schema=schema)
    a, b = LiveServer(settings), LiveServer(settings)
    try:
        events = Events(b.url, b.key("agent", owner="svc-triage", workflows=["support-triage"]))
        try:
            assert events.next()["data"]["switches"] == []
            ops = {"Authorization": f"Bearer {a.key('responder', owner='ops-lead')}"}
            pause = {
                "kind": "pause_workflow",
                "workflow": "support-triage",
                "reason": "seen by every replica",
            }
            assert httpx.post(a.url + "/v1/switches", json=pause, headers=ops).status_code == 200
            seen = events.next()["data"]["switches"]
            assert [(s["kind"], s["reason"]) for s in seen] == [("pause_workflow", "seen by every replica")]
        finally:
            events.close()
    finally:
        a.stop()
        b.stop()
