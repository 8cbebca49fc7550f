"""The engine: cool-down dedup, bounded memory, runbook thresholds, and tailing a real ledger on both
databases with sub-second latency."""

from __future__ import annotations

import threading
import time
import tracemalloc
from datetime import timedelta

from sqlalchemy.engine import Engine

from andon.detect import DetectorEngine, Signal, Wakeup, follow
from andon.ledger.events import Event
from andon.ledger.log import append, read_events
from andon.runbook.revisions import apply_runbook

from .helpers import by, runbook
from .streams import Stream


def spike(stream: Stream, count: int, *, every: float) -> None:
    for i in range(count):
        stream.decision("crm.update_tier", {"account": f"A{i}", "tier": "gold"}, after=every)


def test_a_continuing_condition_is_sent_once_per_cooldown() -> None:
    stream = Stream()
    spike(stream, 1500, every=1.0)  # 60/min for 25 minutes: at the threshold all along
    signals = DetectorEngine(runbook(detectors={"write_rate": {"max": 50}})).feed(stream.events)
    spikes = by(signals, "write_rate")
    assert [s.time - spikes[0].time for s in spikes] == [
        timedelta(0),
        timedelta(minutes=10),
        timedelta(minutes=20),
    ]


def test_cooldown_from_the_runbook_and_distinct_keys() -> None:
    stream = Stream()
    spike(stream, 300, every=1.0)
    for _ in range(6):  # a retry storm is another key: sent although a write spike was just sent
        stream.decision("crm.update_tier", {"account": "A1", "tier": "gold"}, after=1.0)
    engine = DetectorEngine(runbook(detectors={"cooldown": "2m", "write_rate": {"max": 50}}))
    signals = engine.feed(stream.events)
    assert len(by(signals, "write_rate")) == 3  # at 50s, then every 2 minutes
    assert len(by(signals, "retry_storm")) == 1
    assert engine.suppressed > 200


def test_events_already_seen_are_skipped() -> None:
    stream = Stream()
    spike(stream, 70, every=0.1)
    engine = DetectorEngine()
    first = engine.feed(stream.events[:65])
    again = engine.feed(stream.events)  # a re-read overlapping the first batch
    assert len(first) == 1 and again == []
    assert engine.last_index == 69


def test_sink_gets_each_signal_and_push_takes_appended_events() -> None:
    got: list[Signal] = []
    engine = DetectorEngine(sink=got.append)
    stream = Stream()
    spike(stream, 60, every=0.1)
    for seen in stream.events:
        event = Event(seen.kind, seen.actor, seen.payload, seen.workflow, seen.run_id, seen.time)
        engine.push(event, seen.index)
    assert [s.detector for s in got] == ["write_rate"]


def test_new_runbook_thresholds_apply_and_unchanged_workflows_keep_state() -> None:
    engine = DetectorEngine(runbook(detectors={"write_rate": {"max": 40}}))
    stream = Stream()
    spike(stream, 30, every=0.5)
    assert engine.feed(stream.events) == []
    engine.set_runbook(runbook(detectors={"write_rate": {"max": 40}}))  # same settings: state kept
    spike(stream, 10, every=0.5)
    assert len(by(engine.feed(stream.events), "write_rate")) == 1
    engine.set_runbook(runbook(detectors={"write_rate": {"enabled": False}}))
    spike(stream, 100, every=0.1)
    assert engine.feed(stream.events) == []


def test_memory_stays_bounded_over_a_long_run() -> None:
    stream = Stream()
    for i in range(30_000):  # every action and run distinct: the worst case for state
        run_id = f"run-{i}"
        stream.add(
            "retrieval",
            {"source": "crm", "documents": [{"email": f"c{i}@x.example"}]},
            run_id=run_id,
            workflow="wf",
            after=60.0,
        )
        action = stream.decision("crm.update_tier", {"account": f"A{i}"}, run_id=run_id, after=0.0)
        stream.outcome(action, "crm.update_tier", after=0.0)
    engine = DetectorEngine()
    tracemalloc.start()
    try:
        engine.feed(stream.events[:45_000])
        middle, _ = tracemalloc.get_traced_memory()
        engine.feed(stream.events[45_000:])
        end, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - middle < 2_000_000, f"grew {end - middle} bytes over 45,000 more events"


def _to_event(seen: object) -> Event:
    s = seen  # an Observed
    return Event(s.kind, s.actor, s.payload, s.workflow, s.run_id, s.time)  # type: ignore[attr-defined]


def test_engine_on_a_real_ledger(engine: Engine) -> None:
    stream = Stream()
    stream.add("note", {"text": "filler"}, workflow="other")
    spike(stream, 80, every=0.2)
    with engine.begin() as conn:
        indexes = append(conn, [_to_event(e) for e in stream.events])
    assert indexes == [e.index for e in stream.events]
    detectors = DetectorEngine()
    with engine.connect() as conn:
        signals = detectors.feed(read_events(conn, after_index=None, limit=50))
        signals += detectors.feed(read_events(conn, after_index=detectors.last_index))
    assert [s.detector for s in signals] == ["write_rate"]
    assert signals[0].evidence == tuple(range(1, 61))
    with engine.connect() as conn:
        shown = read_events(conn, after_index=0, limit=1)[0]
    assert shown.payload["tool"] == "crm.update_tier"


def test_follow_tails_the_ledger_within_a_second(engine: Engine) -> None:
    with engine.begin() as conn:
        apply_runbook(
            conn, runbook(detectors={"write_rate": {"max": 20, "window": "1m"}}), source="t", actor="t"
        )
        append(conn, [Event("note", "t", {"text": "before"}, "refund-agent")])
    got: list[tuple[Signal, float]] = []
    stop, wakeup = threading.Event(), Wakeup()
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(
            follow(
                engine,
                after_index=0,
                sink=lambda s: got.append((s, time.monotonic())),
                stop=stop,
                wakeup=wakeup,
            )
        )
    )
    thread.start()
    try:
        stream = Stream()
        spike(stream, 20, every=0.01)
        with engine.begin() as conn:
            append(conn, [_to_event(e) for e in stream.events[:19]])
        wakeup.notify()
        time.sleep(0.3)
        assert got == []  # 19 writes: under the threshold
        with engine.begin() as conn:
            append(conn, [_to_event(stream.events[19])])
        appended = time.monotonic()
        wakeup.notify()
        deadline = appended + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        stop.set()
        thread.join(timeout=5)
    assert len(got) == 1
    signal, arrived = got[0]
    assert signal.detector == "write_rate" and signal.evidence == tuple(range(1, 21))
    assert arrived - appended < 1.0
    assert result == [20]
