"""Background delivery of events: batched, retried, and spooled when the store cannot be reached.

The guarded call only puts a tuple on a queue (cheap); this thread builds the ledger events, sends
them in batches, and on failure writes the batch to the spool, which it retries every few seconds.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from andon.sdk.spool import Spool, jsonable

if TYPE_CHECKING:  # pragma: no cover
    from andon.control.service import ControlService
    from andon.ledger.events import Event

log = logging.getLogger("andon.sdk")

# (kind, actor, payload, workflow, run_id, time)
Raw = tuple[str, str, dict[str, Any], str | None, str | None, datetime]


def event_to_dict(event: Event) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "actor": event.actor,
        "payload": event.payload,
        "workflow": event.workflow,
        "run_id": event.run_id,
        "time": event.time.isoformat(),
    }


def event_from_dict(data: dict[str, Any]) -> Event:
    from andon.ledger.events import Event

    return Event(
        kind=data["kind"],
        actor=data["actor"],
        payload=data["payload"],
        workflow=data.get("workflow"),
        run_id=data.get("run_id"),
        time=datetime.fromisoformat(data["time"]),
    )


class Delivery:
    """Owns the queue, the sender thread and the spool retries for one ``Andon`` client."""

    def __init__(
        self,
        service: ControlService,
        spool: Spool,
        *,
        flush_interval: float = 0.05,
        retry_interval: float = 2.0,
        max_batch: int = 500,
    ) -> None:
        self.service = service
        self.spool = spool
        self.flush_interval = flush_interval
        self.retry_interval = retry_interval
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Raw | None] = queue.SimpleQueue()
        self._enqueued = 0
        self._handled = 0
        self._cond = threading.Condition()
        self._count_lock = threading.Lock()
        self._stop = threading.Event()
        self._last_retry = 0.0
        self._thread = threading.Thread(target=self._loop, name="andon-delivery", daemon=True)
        self._thread.start()

    def put(
        self, kind: str, actor: str, payload: dict[str, Any], workflow: str | None, run_id: str | None
    ) -> None:
        """Queue one event (called on the agent's hot path: no I/O, no serialisation)."""
        with self._count_lock:
            self._enqueued += 1
        self._queue.put((kind, actor, payload, workflow, run_id, datetime.now(UTC)))

    def spool_outcome(self, outcome: dict[str, Any]) -> None:
        self.spool.put({"type": "outcome", "outcome": jsonable(outcome)})

    def spool_events(self, events: list[dict[str, Any]]) -> None:
        self.spool.put({"type": "events", "batch_id": uuid.uuid4().hex, "events": jsonable(events)})

    # -- the thread --------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            batch = self._collect()
            if batch:
                self._send(batch)
            if time.monotonic() - self._last_retry >= self.retry_interval:
                self.retry_spool()

    def _collect(self) -> list[Raw]:
        batch: list[Raw] = []
        try:
            first = self._queue.get(timeout=self.flush_interval)
        except queue.Empty:
            return batch
        if first is not None:
            batch.append(first)
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                batch.append(item)
        return batch

    def _send(self, batch: list[Raw]) -> None:
        from andon.ledger.events import Event

        try:
            events = [
                Event(kind=k, actor=a, payload=jsonable(p), workflow=w, run_id=r, time=t)
                for k, a, p, w, r, t in batch
            ]
        except Exception:  # a malformed event must not stop the others; keep it as a note instead
            log.exception("andon: could not build ledger events; keeping them in the spool as raw data")
            self.spool.put({"type": "raw", "events": jsonable([list(item) for item in batch])})
            self._mark(len(batch))
            return
        batch_id = uuid.uuid4().hex
        try:
            if len(self.spool):
                raise RuntimeError("older events are still spooled; keep order")
            self.service.append_events(batch_id, events)
        except Exception as exc:
            log.warning("andon: %d events spooled (%s)", len(events), exc)
            self.spool.put(
                {"type": "events", "batch_id": batch_id, "events": [event_to_dict(e) for e in events]}
            )
        self._mark(len(batch))

    def _mark(self, count: int) -> None:
        with self._cond:
            self._handled += count
            self._cond.notify_all()

    def retry_spool(self) -> int:
        """Deliver spooled entries oldest first; stop at the first failure. Returns how many went."""
        self._last_retry = time.monotonic()
        delivered = 0
        for path, entry in self.spool.entries():
            try:
                kind = entry.get("type")
                if kind == "events":
                    events = [event_from_dict(e) for e in entry["events"]]
                    self.service.append_events(entry["batch_id"], events)
                elif kind == "outcome":
                    from andon.control.actions import ActionOutcome

                    self.service.record_outcome(ActionOutcome.from_dict(entry["outcome"]))
                else:
                    continue  # raw entries wait for a person; they are never dropped
            except Exception as exc:
                log.info("andon: spool delivery paused (%s); %d entries wait", exc, len(self.spool))
                break
            self.spool.done(path)
            delivered += 1
        return delivered

    # -- control -----------------------------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued event was sent or spooled; True if that happened within ``timeout``."""
        target = self._enqueued
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._handled < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout)
