"""Fan one notification out to every configured channel, in parallel; failures go to the dead letters.

A slow or broken channel never holds up or hides the others: each runs in its own thread, and the
report says for every channel whether it delivered, after how many attempts, or why not.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from andon.notify.base import Delivery, DeliveryFailed, Notification, Notifier, NotifyError
from andon.notify.deadletter import DeadLetters, Redelivery

log = logging.getLogger("andon.notify")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened on one channel."""

    channel: str
    delivered: bool
    attempts: int
    status: int | None = None
    reason: str = ""
    dead_letter: str | None = None  # the dead-letter id when it was kept for redelivery


@dataclass(frozen=True, slots=True)
class DispatchReport:
    notification: str
    outcomes: tuple[Outcome, ...]

    @property
    def delivered(self) -> bool:
        """True when every channel delivered."""
        return all(o.delivered for o in self.outcomes)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if not o.delivered)


class Dispatcher:
    """Send to named channels; keep what could not be delivered in ``dead_letters``."""

    def __init__(
        self,
        channels: Sequence[Notifier],
        *,
        dead_letters: DeadLetters | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        names = [c.name for c in channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise NotifyError(f"channel names must be unique; repeated: {', '.join(duplicates)}")
        self.channels: dict[str, Notifier] = {c.name: c for c in channels}
        self.dead_letters = dead_letters
        self._clock = clock

    def _one(self, channel: Notifier, notification: Notification) -> Outcome:
        try:
            delivery: Delivery = channel.send(notification)
        except DeliveryFailed as exc:
            failure = exc
        except Exception as exc:
            # A bug in one channel must not stop the others. Its message may hold a secret, so the log
            # gets the type and the frames (file, line, code) for whoever fixes it — not the message.
            frames = "".join(traceback.format_list(traceback.extract_tb(exc.__traceback__)))
            log.error("notify channel %s raised %s at\n%s", channel.name, type(exc).__name__, frames)
            reason = f"internal error {type(exc).__name__}"
            failure = DeliveryFailed(channel=channel.name, reason=reason, attempts=1)
        else:
            return Outcome(channel.name, delivered=True, attempts=delivery.attempts, status=delivery.status)
        letter = None
        if self.dead_letters is not None:
            letter = self.dead_letters.add(
                kind=channel.kind, error=failure, notification=notification, now=self._clock()
            ).id
        return Outcome(
            channel.name,
            delivered=False,
            attempts=failure.attempts,
            status=failure.status,
            reason=failure.reason,
            dead_letter=letter,
        )

    def dispatch(self, notification: Notification, *, only: Collection[str] | None = None) -> DispatchReport:
        """Deliver ``notification`` to every channel (or those named in ``only``)."""
        if only is not None:
            unknown = sorted(set(only) - set(self.channels))
            if unknown:
                known = ", ".join(self.channels) or "none"
                raise NotifyError(f"no channel named {', '.join(unknown)} (configured: {known})")
        chosen = [c for name, c in self.channels.items() if only is None or name in only]
        if not chosen:
            return DispatchReport(notification.id, ())
        with ThreadPoolExecutor(max_workers=min(8, len(chosen)), thread_name_prefix="andon-notify") as pool:
            outcomes = list(pool.map(lambda c: self._one(c, notification), chosen))
        return DispatchReport(notification.id, tuple(outcomes))

    def redeliver(self, *, ids: Collection[str] | None = None) -> list[Redelivery]:
        """Redeliver dead letters through the channels configured here."""
        if self.dead_letters is None:
            raise NotifyError("this dispatcher keeps no dead letters")
        return self.dead_letters.redeliver(self.channels, now=self._clock(), ids=ids)
