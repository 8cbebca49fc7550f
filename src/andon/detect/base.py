"""The detector interface, the per-workflow context detectors are built with, and a sliding counter."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from andon.detect.signal import Bounded, Hint, LedgerEvent, Signal, evidence
from andon.runbook.detectors import Detectors

if TYPE_CHECKING:
    from andon.runbook.schema import Runbook, Workflow
    from andon.runbook.units import Rate


@dataclass(frozen=True, slots=True)
class Context:
    """What a workflow's detectors need from the runbook: thresholds, declared limits, own contacts."""

    workflow: str
    config: Detectors = field(default_factory=Detectors)
    rate: Rate | None = None  # limits.rate.workflow
    tool_rates: tuple[tuple[str, Rate], ...] = ()  # limits.rate.tools
    confidence_threshold: float | None = None  # limits.confidence_threshold
    own_contacts: frozenset[str] = frozenset()  # organisation e-mail addresses and phone digits
    # How the organisation's contacts and outbound_data ``allow`` values read in the ledger, which masks
    # them ("[email:0123456789]") before storing: never flagged either.
    masked_allowed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, workflow: Workflow, runbook: Runbook | None = None) -> Context:
        contacts: set[str] = set()
        raw: list[str] = []
        if runbook is not None:
            for contact in runbook.organisation.contacts.values():
                if contact.email:
                    contacts.add(contact.email.strip().lower())
                    raw.append(contact.email.strip())
                if contact.phone:
                    contacts.add(digits_of(contact.phone))
                    raw.append(contact.phone.strip())
        config = workflow.detectors or Detectors()
        raw += [value.strip() for value in config.outbound_data.allow]
        return cls(
            workflow=workflow.id,
            config=config,
            rate=workflow.limits.rate.workflow,
            tool_rates=tuple(sorted(workflow.limits.rate.tools.items())),
            confidence_threshold=workflow.limits.confidence_threshold,
            own_contacts=frozenset(contacts),
            masked_allowed=masked_forms(raw),
        )


def masked_forms(values: list[str]) -> frozenset[str]:
    """The ledger's tokens for ``values`` as written and lower-cased (an address is masked as written)."""
    if not values:
        return frozenset()
    from andon.ledger.keys import redaction_key
    from andon.ledger.redact import Redactor

    redactor = Redactor(key=redaction_key())
    forms = {form for value in values for form in (value, value.lower())}
    return frozenset(redactor.mask(rule, form) for form in forms for rule in ("email", "phone"))


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


class Cooldown:
    """When each signal key of a workflow was last sent; repeats within ``seconds`` stay quiet."""

    __slots__ = ("_sent", "repeats", "seconds")

    def __init__(self, seconds: float, *, limit: int = 10_000) -> None:
        self.seconds = seconds
        self.repeats = 0  # signals not sent because their key was cooling down
        self._sent: Bounded[str, float] = Bounded(limit)

    def active(self, key: str, when: float) -> bool:
        """True (and one more repeat counted) when ``key`` was sent less than ``seconds`` before ``when``."""
        last = self._sent.get(key)
        if last is not None and when - last < self.seconds:
            self.repeats += 1
            return True
        return False

    def mark(self, key: str, when: float) -> None:
        self._sent.put(key, when)


class Detector:
    """One streaming rule over one workflow's events; state lives in the instance and stays bounded.

    ``observe`` is called for each event of one of ``kinds``, in ledger order, and returns a signal
    when the event completes a pattern. It must be cheap: it runs for every event in the ledger.
    """

    name: ClassVar[str]
    incident_class: ClassVar[str]
    kinds: ClassVar[frozenset[str]]

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        self.context = context
        self.cooldown = cooldown or Cooldown(context.config.cooldown.total_seconds())

    def quiet(self, key: str, when: float) -> bool:
        """True while a signal with this key is cooling down: no need to build one just to drop it."""
        return self.cooldown.active(f"{self.name}:{self.context.workflow}:{key}", when)

    def observe(self, event: LedgerEvent) -> Signal | None:
        raise NotImplementedError

    def signal(
        self,
        event: LedgerEvent,
        *,
        severity: Hint,
        summary: str,
        indexes: Iterable[int],
        key: str,
        details: dict[str, Any] | None = None,
    ) -> Signal:
        return Signal(
            detector=self.name,
            incident_class=self.incident_class,
            workflow=self.context.workflow,
            severity=severity,
            summary=summary,
            evidence=evidence(indexes),
            dedup_key=f"{self.name}:{self.context.workflow}:{key}",
            time=event.time,
            details=details or {},
        )


class SlidingCount:
    """Whether ``threshold`` events fell within ``window``: keeps only the last ``threshold`` of them."""

    __slots__ = ("_seen", "threshold", "window")

    def __init__(self, threshold: int, window: timedelta) -> None:
        self.threshold = threshold
        self.window = window.total_seconds()
        self._seen: deque[tuple[float, int]] = deque(maxlen=threshold)

    def add(self, when: float, index: int) -> bool:
        """Count one event; True when the last ``threshold`` events all fall within the window."""
        self._seen.append((when, index))
        return len(self._seen) == self.threshold and when - self._seen[0][0] <= self.window

    def indexes(self) -> list[int]:
        return [index for _, index in self._seen]

    def span(self) -> float:
        """Seconds between the oldest and the newest event kept."""
        return self._seen[-1][0] - self._seen[0][0] if self._seen else 0.0
