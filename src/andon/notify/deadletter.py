"""Dead letters: notifications a channel gave up on, kept in a JSONL file to list and redeliver.

One JSON object per line: ``{"id", "channel", "kind", "failed_at", "attempts", "reason",
"notification"}``. The file holds no secrets — only the channel's *name*; redelivery looks the channel
up in the configuration of the moment, so a fixed URL or rotated key is used on the retry.
The default file is ``$ANDON_DATA_DIR/notify/dead-letters.jsonl``.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from andon.notify.base import DeliveryFailed, Notification, Notifier, NotifyError

try:  # POSIX: also exclude other processes writing the same file
    import fcntl
except ImportError:  # pragma: no cover - Windows keeps the in-process lock only
    fcntl = None  # type: ignore[assignment]

FILE_NAME = "dead-letters.jsonl"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    channel: str
    kind: str
    failed_at: datetime
    attempts: int
    reason: str
    notification: Notification

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "kind": self.kind,
            "failed_at": self.failed_at.isoformat(),
            "attempts": self.attempts,
            "reason": self.reason,
            "notification": self.notification.as_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeadLetter:
        return cls(
            id=data["id"],
            channel=data["channel"],
            kind=data["kind"],
            failed_at=datetime.fromisoformat(data["failed_at"]),
            attempts=int(data["attempts"]),
            reason=data["reason"],
            notification=Notification.from_dict(data["notification"]),
        )


@dataclass(frozen=True, slots=True)
class Redelivery:
    """The result of redelivering one dead letter: delivered (and removed) or still dead."""

    letter: str
    channel: str
    delivered: bool
    reason: str = ""


class DeadLetters:
    """The dead-letter file: ``add`` on failure, ``letters`` to list, ``redeliver`` when fixed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def default(cls) -> DeadLetters:
        """The file under the data directory (``$ANDON_DATA_DIR``, default ``./.andon``)."""
        from andon.store.engine import data_dir  # lazy: the store is not needed to notify

        return cls(data_dir() / "notify" / FILE_NAME)

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_suffix(".lock"), "a") as lock_file:
            if fcntl is not None:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield

    def add(
        self, *, kind: str, error: DeliveryFailed, notification: Notification, now: datetime
    ) -> DeadLetter:
        """Append one failed delivery; returns the stored letter."""
        if now.tzinfo is None:
            raise NotifyError("dead letter time must be timezone-aware (UTC)")
        letter = DeadLetter(
            id=uuid.uuid4().hex,
            channel=error.channel,
            kind=kind,
            failed_at=now,
            attempts=error.attempts,
            reason=error.reason,
            notification=notification,
        )
        line = json.dumps(letter.as_dict(), ensure_ascii=False, sort_keys=True) + "\n"
        with self._locked(), open(self.path, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())
        return letter

    def _read(self) -> list[DeadLetter]:
        if not self.path.exists():
            return []
        letters = []
        with open(self.path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    letters.append(DeadLetter.from_dict(json.loads(line)))
                except (ValueError, KeyError, TypeError, NotifyError) as exc:
                    raise NotifyError(f"{self.path}:{number}: unreadable dead letter ({exc})") from None
        return letters

    def _write(self, letters: list[DeadLetter]) -> None:
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as out:
            for letter in letters:
                out.write(json.dumps(letter.as_dict(), ensure_ascii=False, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)

    def letters(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        with self._locked():
            return self._read()

    def redeliver(
        self,
        channels: Mapping[str, Notifier],
        *,
        now: datetime,
        ids: Collection[str] | None = None,
    ) -> list[Redelivery]:
        """Send dead letters again through the channels now configured (all, or only ``ids``).

        Delivered letters leave the file; failed ones stay with the new attempt count and reason.
        A letter whose channel is no longer configured stays and says so. Sending happens outside the
        file lock, so failures recorded meanwhile are not held up by a slow receiver; two redeliveries
        running at once may both send a letter (receivers deduplicate on the notification id).
        """
        with self._locked():
            chosen = [x for x in self._read() if ids is None or x.id in ids]
        results: list[Redelivery] = []
        settled: dict[str, DeadLetter | None] = {}  # id -> updated letter, or None when delivered
        for letter in chosen:
            channel = channels.get(letter.channel)
            if channel is None:
                reason = f"channel '{letter.channel}' is not configured"
                results.append(Redelivery(letter.id, letter.channel, delivered=False, reason=reason))
                continue
            try:
                channel.send(letter.notification)
            except DeliveryFailed as exc:
                attempts = letter.attempts + exc.attempts
                settled[letter.id] = replace(letter, attempts=attempts, reason=exc.reason, failed_at=now)
                results.append(Redelivery(letter.id, letter.channel, delivered=False, reason=exc.reason))
            else:
                settled[letter.id] = None
                results.append(Redelivery(letter.id, letter.channel, delivered=True))
        if settled:
            with self._locked():
                current = self._read()
                kept = [settled.get(x.id, x) for x in current]
                self._write([x for x in kept if x is not None])
        return results
