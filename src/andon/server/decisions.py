"""Group commit for write decisions: one writer thread per server process, one transaction per batch.

Every write decision must be in the store — decision, rate reservation, action row, ledger event —
before its answer leaves the server. Committing each in its own transaction makes the commit, and on
SQLite the wait for the one write lock, the cost of every decision. Here the route puts the request on
a queue and awaits it; the writer takes every decision waiting (up to ``max_batch``), decides them in
order inside one transaction with ``actions.decide_actions`` — what ``StoreControl.decide`` runs for
one — commits, and only then answers each one. Decisions in a batch see each other's reservations, so
limits stay exact; their ledger events are appended in one call. If any decision in a batch raises,
the batch is rolled back and each of its decisions is retried in a transaction of its own, so one bad
request never decides another's fate.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from andon.control.actions import ActionDecision, ActionRequest, decide_action, decide_actions

MAX_BATCH = 128


@dataclass(slots=True)
class _Pending:
    request: ActionRequest
    future: asyncio.Future[ActionDecision]
    loop: asyncio.AbstractEventLoop


def _settle(answers: list[tuple[asyncio.Future[ActionDecision], ActionDecision | BaseException]]) -> None:
    for future, result in answers:
        if future.done():  # the caller went away; its decision stands in the store all the same
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


class DecisionWriter:
    """Decides write actions in batches on one thread; ``await writer.decide(request)``."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="andon-decisions", daemon=True)
        self._thread.start()

    async def decide(self, request: ActionRequest) -> ActionDecision:
        """The committed decision for ``request``; raises what ``decide_action`` raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ActionDecision] = loop.create_future()
        self._queue.put(_Pending(request, future, loop))
        return await future

    def close(self) -> None:
        """Finish the decisions already queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            # One wake-up per event loop for the whole batch, not one per decision.
            answers: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[ActionDecision], Any]]] = {}
            for pending, result in zip(batch, self._decide(batch), strict=True):
                answers.setdefault(pending.loop, []).append((pending.future, result))
            for loop, settled in answers.items():
                try:
                    loop.call_soon_threadsafe(_settle, settled)
                except RuntimeError:  # that event loop is gone (shutdown); serve the rest
                    continue
            if stop:
                return

    def _decide(self, batch: list[_Pending]) -> list[ActionDecision | BaseException]:
        try:
            with self.engine.begin() as conn:
                return list(decide_actions(conn, [p.request for p in batch], now=datetime.now(UTC)))
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
        # One of them failed (or the commit did): nothing of the batch stands; decide each alone.
        results: list[ActionDecision | BaseException] = []
        for pending in batch:
            try:
                with self.engine.begin() as conn:
                    results.append(decide_action(conn, pending.request, now=datetime.now(UTC)))
            except Exception as exc:
                results.append(exc)
        return results
