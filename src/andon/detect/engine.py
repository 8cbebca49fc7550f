"""DetectorEngine: feeds ledger events in order to each workflow's detectors and sends deduplicated signals.

State is per workflow and bounded (each detector caps what it remembers), so a long run costs a
fixed amount of memory. A signal whose dedup key was sent less than the workflow's cool-down ago is
counted, not sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from andon.detect.actions import DuplicateEffects, ErrorRate, RetryStorm, UnauthorisedTool, WriteRate
from andon.detect.base import Context, Cooldown, Detector
from andon.detect.content import OutboundData, PromptInjection, WrongRecipient
from andon.detect.quality import Drift, LowConfidence, RubberStamp
from andon.detect.signal import Bounded, LedgerEvent, Observed, Signal
from andon.ledger.events import Event
from andon.runbook.schema import Runbook

log = logging.getLogger("andon.detect")

Sink = Callable[[Signal], None]

# In the order a responder reads them; also the order signals of one event come out in.
DETECTORS: tuple[type[Detector], ...] = (
    PromptInjection,
    WrongRecipient,
    OutboundData,
    UnauthorisedTool,
    WriteRate,
    RetryStorm,
    DuplicateEffects,
    ErrorRate,
    LowConfidence,
    Drift,
    RubberStamp,
)
_MAX_UNKNOWN_WORKFLOWS = 1_000  # workflows seen in events but absent from the runbook


class _Workflow:
    """One workflow's detectors, indexed by the event kinds they read."""

    __slots__ = ("by_kind", "context", "cooldown")

    def __init__(self, context: Context) -> None:
        self.context = context
        self.cooldown = Cooldown(context.config.cooldown.total_seconds())
        by_kind: dict[str, list[Detector]] = {}
        for cls in DETECTORS:
            section = getattr(context.config, cls.name)
            if not section.enabled:
                continue
            detector = cls(context, self.cooldown)
            for kind in cls.kinds:
                by_kind.setdefault(kind, []).append(detector)
        self.by_kind = {kind: tuple(found) for kind, found in by_kind.items()}


class DetectorEngine:
    """Runs every enabled detector over events in ledger order; ``sink`` receives each new signal."""

    def __init__(self, runbook: Runbook | None = None, *, sink: Sink | None = None) -> None:
        self.sink = sink
        self.last_index = -1
        self._runbook: Runbook | None = None
        self._contexts: dict[str, Context] = {}
        self._known: dict[str, _Workflow] = {}
        self._unknown: Bounded[str, _Workflow] = Bounded(_MAX_UNKNOWN_WORKFLOWS)
        self.set_runbook(runbook)

    @property
    def suppressed(self) -> int:
        """How many signals were not sent again because their key was within its cool-down."""
        workflows = [*self._known.values(), *(self._unknown.get(w) for w in list(self._unknown))]
        return sum(w.cooldown.repeats for w in workflows if w is not None)

    @property
    def runbook(self) -> Runbook | None:
        return self._runbook

    def set_runbook(self, runbook: Runbook | None) -> None:
        """Use a new runbook's thresholds; workflows whose settings did not change keep their state."""
        self._runbook = runbook
        contexts = {w.id: Context.of(w, runbook) for w in runbook.workflows} if runbook else {}
        self._known = {
            wid: self._known[wid] if wid in self._known and self._contexts.get(wid) == ctx else _Workflow(ctx)
            for wid, ctx in contexts.items()
        }
        self._contexts = contexts

    def _workflow(self, workflow: str) -> _Workflow:
        found = self._known.get(workflow)
        if found is None:
            found = self._unknown.get(workflow)
            if found is None:
                found = _Workflow(Context(workflow=workflow))
                self._unknown.put(workflow, found)
        return found

    def feed(self, events: Iterable[LedgerEvent]) -> list[Signal]:
        """Process events (ascending index; ones already seen are skipped) and return the signals sent."""
        sent: list[Signal] = []
        for event in events:
            if event.index <= self.last_index:
                continue
            self.last_index = event.index
            workflow = event.workflow
            if workflow is None:
                continue
            state = self._workflow(workflow)
            detectors = state.by_kind.get(event.kind)
            if not detectors:
                continue
            for detector in detectors:
                try:
                    signal = detector.observe(event)
                except Exception:  # one detector's bug must not blind the others; it is logged loudly
                    log.exception("detector %s failed on event %d", detector.name, event.index)
                    continue
                if signal is not None and self._fresh(signal, state.cooldown):
                    sent.append(signal)
                    if self.sink is not None:
                        self.sink(signal)
        return sent

    def push(self, event: Event, index: int) -> list[Signal]:
        """Process one event just appended in-process at leaf ``index`` (see ``andon.ledger.log.append``)."""
        return self.feed(
            [
                Observed(
                    index, event.kind, event.actor, event.workflow, event.run_id, event.time, event.payload
                )
            ]
        )

    def _fresh(self, signal: Signal, cooldown: Cooldown) -> bool:
        when = signal.time.timestamp()
        if cooldown.active(signal.dedup_key, when):
            return False
        cooldown.mark(signal.dedup_key, when)
        return True
