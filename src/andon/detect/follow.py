"""Tailing the ledger: read what was appended since the last index, feed the detectors, wait, repeat.

The wait is short (50 ms by default) and ends at once when a writer in the same process calls
``Wakeup.notify()`` after committing an append, so a signal follows its event well within a second.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy.engine import Engine

from andon.detect.engine import DetectorEngine, Sink
from andon.ledger.log import read_events
from andon.runbook.revisions import latest_revision
from andon.store import reading


class Wakeup:
    """A hook a writer calls after committing an append, so a follower reads it without waiting out a poll."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def notify(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a notification; True when one came (and is consumed)."""
        woke = self._event.wait(timeout)
        self._event.clear()
        return woke


def follow(
    engine_db: Engine,
    *,
    after_index: int | None = None,
    sink: Sink,
    stop: threading.Event,
    detectors: DetectorEngine | None = None,
    wakeup: Wakeup | None = None,
    poll: float = 0.05,
    batch: int = 5_000,
    runbook_every: float = 5.0,
) -> int:
    """Tail the ledger of ``engine_db`` from ``after_index`` (exclusive) until ``stop`` is set.

    Every event goes through ``detectors`` (by default a DetectorEngine with the latest applied
    runbook, which is reloaded when a newer revision appears); ``sink`` receives each signal.
    Returns the index of the last event processed, to resume from.
    """
    if detectors is None:
        detectors = DetectorEngine()
    detectors.sink = sink
    if after_index is not None:
        detectors.last_index = max(detectors.last_index, after_index)
    revision: int | None = None
    checked = float("-inf")
    while not stop.is_set():
        now = time.monotonic()
        with reading(engine_db) as conn:
            if now - checked >= runbook_every:
                checked = now
                latest = latest_revision(conn)
                if latest is not None and latest.revision != revision:
                    revision = latest.revision
                    detectors.set_runbook(latest.runbook)
            start = detectors.last_index if detectors.last_index >= 0 else None
            events = read_events(conn, after_index=start, limit=batch)
        if events:
            detectors.feed(events)
        if len(events) < batch:
            if wakeup is not None:
                wakeup.wait(poll)
            else:
                stop.wait(poll)
    return detectors.last_index
