"""The live control state of one server process, fanned out to every ``GET /v1/stream`` client.

One watcher per process, never one per client: it reads the control epoch and runbook revision and,
when either moved, the switches in force, and wakes every subscriber with the new snapshot.

- SQLite: the watcher polls the epoch every ``poll_interval`` (50 ms), a one-row read that never
  waits for the write lock.
- PostgreSQL: a listener thread holds one connection in ``LISTEN andon_control``; ``bump_epoch``
  notifies that channel in the transaction of every control change, so every replica on the store
  wakes when the change commits. The watcher also polls once a second, which catches runbook
  revisions (they do not notify) and anything missed while the listener reconnected.
- Changes made through this process (switch and version routes) ``poke`` the watcher at once, and a
  poke reads the new state straight away (no marker read first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from andon.control import snapshot
from andon.store import reading
from andon.store.dialect import CONTROL_CHANNEL

log = logging.getLogger("andon.server.feed")
SQLITE_POLL = 0.05
POSTGRES_POLL = 1.0
HEARTBEAT = 10.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The control state as a stream event: ``id`` is ``"<epoch>.<revision>"``."""

    epoch: int
    revision: int | None
    switches: tuple[dict[str, Any], ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.epoch}.{self.revision or 0}"

    def data(self, may_touch: Any) -> dict[str, Any]:
        """The event body for a caller: switches outside its workflow scope are left out."""
        shown = [s for s in self.switches if s["workflow"] is None or may_touch(s["workflow"])]
        return {"epoch": self.epoch, "revision": self.revision, "switches": shown}


def _marker(engine: Engine) -> tuple[int, int | None]:
    with reading(engine) as conn:
        return snapshot.read_epoch(conn), snapshot.current_revision(conn)


def _snapshot(engine: Engine) -> Snapshot:
    with reading(engine) as conn:
        epoch, revision = snapshot.read_epoch(conn), snapshot.current_revision(conn)
        switches = snapshot.active_switches(conn, now=datetime.now(UTC))
    return Snapshot(epoch, revision, tuple(s.as_dict() for s in switches))


class ControlFeed:
    """Watches the store for control changes; ``async for snap in feed.follow(last_id)``."""

    def __init__(self, engine: Engine, *, poll_interval: float | None = None, heartbeat: float = HEARTBEAT):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.poll_interval = poll_interval or (POSTGRES_POLL if self.postgres else SQLITE_POLL)
        self.heartbeat = heartbeat
        self.latest = Snapshot(0, None)
        self._changed = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.latest = await run_in_threadpool(_snapshot, self.engine)
        self._task = asyncio.create_task(self._watch(), name="andon-control-feed")
        if self.postgres:
            self._listener = threading.Thread(target=self._listen, name="andon-listen", daemon=True)
            self._listener.start()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._listener is not None:
            await run_in_threadpool(self._listener.join, 5)

    def poke(self) -> None:
        """Look for a change now (thread-safe): called after a change this process committed."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _watch(self) -> None:
        marker = (self.latest.epoch, self.latest.revision)
        while True:
            poked = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
                poked = True
            self._wake.clear()
            try:
                # A poke means a change committed: read it at once. A timed poll first reads the
                # one-row marker and reads the switches only if it moved.
                if not poked and await run_in_threadpool(_marker, self.engine) == marker:
                    continue
                latest = await run_in_threadpool(_snapshot, self.engine)
                if (latest.epoch, latest.revision) == marker:
                    continue
                self.latest = latest
                marker = (latest.epoch, latest.revision)
            except Exception:
                # The store may be away for a while; the stream goes on with what it last knew.
                log.exception("control feed: could not read the control state; retrying")
                await asyncio.sleep(1.0)
                continue
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    def _listen(self) -> None:
        import psycopg

        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CONTROL_CHANNEL}")
                    self.poke()  # changes made while we were not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5):
                            self.poke()
            except Exception:
                log.exception("control feed: LISTEN connection lost; reconnecting")
                self._stop.wait(1.0)

    async def follow(
        self, last_id: str | None, *, until: float | None = None
    ) -> AsyncIterator[Snapshot | None]:
        """The current snapshot unless ``last_id`` is it, then each change; None is a heartbeat.

        ``until`` (``time.monotonic()``) ends the iteration, after the current snapshot."""
        sent = last_id
        while True:
            waiting = self._changed
            latest = self.latest
            if latest.id != sent:
                sent = latest.id
                yield latest
                continue
            left = self.heartbeat if until is None else min(self.heartbeat, until - time.monotonic())
            if left <= 0:
                return
            try:
                await asyncio.wait_for(waiting.wait(), timeout=left)
            except TimeoutError:
                if until is None or time.monotonic() < until:
                    yield None
