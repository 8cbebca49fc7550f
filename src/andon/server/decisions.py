"""Group commit for write decisions, in a process of its own: one writer per server process.

Every write decision must be in the store — decision, rate reservation, action row, ledger event —
before its answer leaves the server. Committing each in its own transaction makes the commit, and on
SQLite the wait for the one write lock, the cost of every decision. Here the route hands the request
to the writer and awaits it; the writer takes every decision waiting (up to ``max_batch``), decides
them in order inside one transaction with ``actions.decide_actions`` — what ``StoreControl.decide``
runs for one — commits, and only then answers each one. Decisions in a batch see each other's
reservations, so limits stay exact; their ledger events are appended in one call. If any decision in a
batch raises, the batch is rolled back and each of its decisions is retried in a transaction of its
own, so one bad request never decides another's fate.

The writer runs in a child process (``_serve``, started by ``children.start``), not a thread:
deciding and recording costs about as much CPU as everything else a decision request needs (HTTP,
validation, the answer), and in one process both took turns on one interpreter lock. Requests and
answers cross a socket pair as pickles: the requests of one turn of the server's event loop in one
message, a batch's answers in one message.

Failure: if the child dies, every decision waiting on it fails with ``StoreError`` (the API answers
503; the SDK fails closed), and the next decision starts a new child. A decision the dead child may
have committed stays as it is (decided, never run); the fast path leaves the request to the route,
which asks the new child (see ``fastpath``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from sqlalchemy.engine import Engine

from andon.control.actions import ActionDecision, ActionRequest, decide_action, decide_actions
from andon.errors import StoreError
from andon.server import children
from andon.store import create_engine

log = logging.getLogger("andon.server.decisions")

MAX_BATCH = 128
# Room for thousands of requests in flight: the event loop never waits to hand one over.
SOCKET_BUFFER = 4 * 1024 * 1024


def decide_batch(engine: Engine, requests: list[ActionRequest]) -> list[ActionDecision | BaseException]:
    """Decide ``requests`` in one transaction; if that fails, each in its own. One result per request."""
    try:
        with engine.begin() as conn:
            return list(decide_actions(conn, requests, now=datetime.now(UTC)))
    except Exception as exc:
        if len(requests) == 1:
            return [exc]
    # One of them failed (or the commit did): nothing of the batch stands; decide each alone.
    results: list[ActionDecision | BaseException] = []
    for request in requests:
        try:
            with engine.begin() as conn:
                results.append(decide_action(conn, request, now=datetime.now(UTC)))
        except Exception as exc:
            results.append(exc)
    return results


def _portable(result: ActionDecision | BaseException) -> ActionDecision | BaseException:
    """``result`` if it survives pickling, else an error that says what it was."""
    if isinstance(result, ActionDecision):
        return result
    try:
        pickle.loads(pickle.dumps(result))
    except Exception:
        return RuntimeError(f"{type(result).__name__}: {result}")
    return result


def _serve(conn: Connection, url: str, schema: str | None, max_batch: int) -> None:
    """The child: read requests (each message a list), decide them in batches, answer each batch in
    one message."""
    engine = create_engine(url, schema=schema)
    try:
        ending = False
        while not ending:
            batch: list[tuple[int, ActionRequest]] = []
            try:
                batch.extend(pickle.loads(conn.recv_bytes()))
                while len(batch) < max_batch and conn.poll(0):
                    batch.extend(pickle.loads(conn.recv_bytes()))
            except EOFError:  # the server shut its end: answer what came before, then stop
                ending = True
                if not batch:
                    return
            results = decide_batch(engine, [request for _, request in batch])
            answers = [(ident, _portable(result)) for (ident, _), result in zip(batch, results, strict=True)]
            try:
                conn.send_bytes(pickle.dumps(answers))
            except OSError:  # the server is gone
                return
    finally:
        engine.dispose()


@dataclass(slots=True)
class _Waiting:
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


def _fail(waiting: Iterable[_Waiting], error: ActionDecision | BaseException) -> None:
    """Fail each request in ``waiting`` with ``error``, on its own event loop (from any thread)."""
    for one in waiting:
        with contextlib.suppress(RuntimeError):  # that event loop is gone (shutdown)
            one.loop.call_soon_threadsafe(_settle, [(one.future, error)])


class _Child:
    """One writer process, the socket to it, and the thread that reads its answers."""

    def __init__(self, url: str, schema: str | None, max_batch: int) -> None:
        ours, theirs = socket.socketpair()
        for sock in (ours, theirs):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        self.sock = ours  # kept to shut down our sending side at close, so answers still come back
        self.conn = Connection(os.dup(ours.fileno()))
        child_end = Connection(theirs.detach())
        self.process = children.start(_serve, child_end, url, schema, max_batch, name="andon-decisions")
        child_end.close()
        self.waiting: dict[int, _Waiting] = {}
        self.outbox: list[tuple[int, ActionRequest]] = []  # handed over this turn, sent at its end
        self.lock = threading.Lock()
        self.alive = True
        self.reader = threading.Thread(target=self._read, name="andon-decisions-reader", daemon=True)
        self.reader.start()

    def send(self, ident: int, request: ActionRequest, waiting: _Waiting) -> None:
        """Hand ``request`` over (called on ``waiting.loop``): the requests of one turn of the event
        loop leave together, in one message at the end of the turn."""
        with self.lock:
            if not self.alive:
                raise StoreError("the decision writer stopped; try again")
            self.waiting[ident] = waiting
            self.outbox.append((ident, request))
            if len(self.outbox) == 1:
                waiting.loop.call_soon(self._flush)

    def _flush(self) -> None:
        with self.lock:
            outbox, self.outbox = self.outbox, []
            if not outbox:
                return
            try:
                self.conn.send_bytes(pickle.dumps(outbox))
                return
            except OSError:  # the child is gone (or stopping): these never reached it
                unsent = [self.waiting.pop(ident) for ident, _ in outbox if ident in self.waiting]
        _fail(unsent, StoreError("the decision writer stopped; try again"))

    def _read(self) -> None:
        try:
            while True:
                answers: list[tuple[int, Any]] = pickle.loads(self.conn.recv_bytes())
                by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, Any]]] = {}
                with self.lock:
                    for ident, result in answers:
                        waiting = self.waiting.pop(ident)
                        by_loop.setdefault(waiting.loop, []).append((waiting.future, result))
                # One wake-up per event loop for the whole batch, not one per decision.
                for loop, settled in by_loop.items():
                    try:
                        loop.call_soon_threadsafe(_settle, settled)
                    except RuntimeError:  # that event loop is gone (shutdown); serve the rest
                        continue
        except (EOFError, OSError):
            pass
        with self.lock:
            self.alive = False
            orphans, self.waiting = self.waiting, {}
        if orphans:
            pid, count = self.process.pid, len(orphans)
            log.error("the decision writer (pid %s) stopped with %d decisions waiting", pid, count)
        _fail(
            orphans.values(),
            StoreError("the decision writer stopped before answering; the decision may or may not stand"),
        )

    def close(self, timeout: float) -> None:
        """Let the child finish what it has, then stop it."""
        with self.lock:
            self.alive = False  # no more requests; the reader still takes the answers due
        self._flush()  # what was handed over this turn goes too
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)  # the child sees EOF after every request before it
        children.stop(self.process, timeout)
        self.reader.join(timeout)
        self.conn.close()
        self.sock.close()


class DecisionWriter:
    """Decides write actions in batches in a child process; ``await writer.decide(request)``."""

    def __init__(self, url: str, *, schema: str | None = None, max_batch: int = MAX_BATCH) -> None:
        self.url = url
        self.schema = schema
        self.max_batch = max_batch
        self._ids = itertools.count()
        self._start = threading.Lock()
        self._closed = False
        self._child = _Child(url, schema, max_batch)

    async def decide(self, request: ActionRequest) -> ActionDecision:
        """The committed decision for ``request``; raises what ``decide_action`` raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ActionDecision] = loop.create_future()
        self._running().send(next(self._ids), request, _Waiting(future, loop))
        return await future

    def _running(self) -> _Child:
        child = self._child
        if child.alive:
            return child
        with self._start:
            if self._closed:
                raise StoreError("the server is stopping; no more decisions")
            if not self._child.alive:
                log.warning("starting a new decision writer (the last one stopped)")
                self._child = _Child(self.url, self.schema, self.max_batch)
            return self._child

    def close(self, timeout: float = 10.0) -> None:
        """Finish the decisions already handed over, then stop the child."""
        with self._start:
            self._closed = True
        self._child.close(timeout)
