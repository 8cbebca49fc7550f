"""Detectors → incidents → containment in a server process: a thread following the ledger.

``IncidentWatch`` tails the ledger with the detect engine's ``follow()``; every signal opens (or is
grouped onto) an incident, and a new incident's automatic containment commits in the same
transaction — within a poll interval (50 ms) plus one transaction of the triggering event. A second
thread then freezes the evidence and pages people, and every ``escalate_every`` seconds sends the
clock escalations that fell due, so a slow export or a slow receiver never holds containment back.

The watch starts at the end of the ledger; the detectors are first warmed on the latest ``warmup``
events (their signals are not acted on: those events were watched before).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from andon.detect.engine import DetectorEngine
from andon.detect.follow import Wakeup, follow
from andon.detect.signal import Signal
from andon.incidents.service import IncidentDesk, Opened
from andon.ledger.log import read_events, tree_size
from andon.runbook.revisions import latest_revision
from andon.store import reading

log = logging.getLogger("andon.incidents")
_STOP = -1  # put on the follow-up queue to end its thread (incident numbers start at 1)


@dataclass(frozen=True, slots=True)
class Handled:
    signal: Signal
    opened: Opened


class IncidentWatch:
    """Follow the ledger of ``engine`` and turn signals into contained incidents, in background threads."""

    def __init__(
        self,
        engine: Engine,
        *,
        desk: IncidentDesk | None = None,
        warmup: int = 5_000,
        poll: float = 0.05,
        escalate_every: float = 30.0,
        wakeup: Wakeup | None = None,
    ) -> None:
        self.engine = engine
        self.desk = desk or IncidentDesk(engine)
        self.warmup = warmup
        self.poll = poll
        self.escalate_every = escalate_every
        self.wakeup = wakeup
        self.detectors = DetectorEngine()
        self.handled: deque[Handled] = deque(maxlen=1_000)  # the latest, for the console and the bench
        self.errors = 0
        self._stop = threading.Event()
        self._followups: queue.Queue[int] = queue.Queue()
        self._threads: list[threading.Thread] = []

    def _warm(self) -> int:
        with reading(self.engine) as conn:
            size = tree_size(conn)
            latest = latest_revision(conn)
            if latest is not None:
                self.detectors.set_runbook(latest.runbook)
            start = max(-1, size - 1 - self.warmup)
            events = read_events(conn, after_index=start if start >= 0 else None, limit=self.warmup)
        self.detectors.sink = None
        self.detectors.feed(events)
        return size - 1

    def on_signal(self, signal: Signal) -> None:
        """The follower's sink: open and contain now; freeze and page on the other thread."""
        try:
            opened = self.desk.handle_signal(signal, freeze_now=False)
        except Exception:  # the follower must keep following; the failure is logged with its traceback
            self.errors += 1
            log.exception("incident watch: signal %s of %s not handled", signal.dedup_key, signal.workflow)
            return
        if opened is None:
            return
        self.handled.append(Handled(signal, opened))
        if opened.created:
            self._followups.put(opened.incident.number)

    def _follow(self, start: int) -> None:
        while not self._stop.is_set():
            try:
                follow(
                    self.engine,
                    after_index=start,
                    sink=self.on_signal,
                    stop=self._stop,
                    detectors=self.detectors,
                    wakeup=self.wakeup,
                    poll=self.poll,
                )
            except Exception:  # the store went away: log it, wait, carry on from where the detectors are
                self.errors += 1
                log.exception("incident watch: following the ledger failed; retrying")
                self._stop.wait(1.0)
            start = self.detectors.last_index

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                number = self._followups.get(timeout=self.escalate_every)
            except queue.Empty:
                number = None
            if number == _STOP:
                return
            try:
                if number is not None:
                    self.desk.after_open(number)
                else:
                    self.desk.escalate()
            except Exception:
                self.errors += 1
                log.exception("incident watch: follow-up of incident %s failed", number)

    def start(self) -> IncidentWatch:
        start = self._warm()
        for name, target, args in (
            ("andon-incident-follow", self._follow, (start,)),
            ("andon-incident-followup", self._work, ()),
        ):
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._followups.put(_STOP)  # the follow-up thread may be waiting out escalate_every
        if self.wakeup is not None:
            self.wakeup.notify()
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads.clear()

    def __enter__(self) -> IncidentWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
