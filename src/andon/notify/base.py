"""What every channel shares: the Notification, the Notifier protocol, delivery results, secret masking.

Secrets (webhook URLs with tokens, routing keys, SMTP passwords) are held in ``Secret`` so that a
``repr``, a log line or an exception message shows ``***`` instead; a channel reveals a secret only at
the moment it sends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

from andon.errors import AndonError

State = Literal["open", "acknowledged", "resolved"]
STATES: tuple[State, ...] = ("open", "acknowledged", "resolved")


class NotifyError(AndonError):
    """A notification could not be built or a channel is misconfigured."""


class DeliveryFailed(NotifyError):
    """A channel gave up on one notification; the message names the channel, never its secrets."""

    def __init__(self, *, channel: str, reason: str, attempts: int, status: int | None = None) -> None:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"channel '{channel}' could not deliver after {tries}: {reason}")
        self.channel = channel
        self.reason = reason
        self.attempts = attempts
        self.status = status


class Secret:
    """A string that prints as ``***``; ``reveal()`` it only where it is sent."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise NotifyError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def as_secret(value: str | Secret) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


def mask_url(url: str) -> str:
    """Scheme, host and port only: ``https://hooks.slack.com/***`` (paths and queries hold tokens)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/***"


def secret_parts(url: str) -> tuple[str, ...]:
    """The parts of a URL that may hold a token: the whole URL, its path and query, and each
    path segment or query value of six characters or more (a receiver may echo any of them)."""
    parts = urlsplit(url)
    pieces = [url, parts.path, parts.query]
    pieces += [seg for seg in parts.path.split("/") if len(seg) >= 6]
    pieces += [v for _, v in parse_qsl(parts.query) if len(v) >= 6]
    return tuple(sorted({p for p in pieces if p and p != "/"}, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[Secret | str | None]) -> str:
    """``text`` with every secret value replaced by ``***`` (for response bodies and error texts)."""
    for secret in secrets:
        if secret is not None:
            text = text.replace(secret.reveal() if isinstance(secret, Secret) else secret, "***")
    return text


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    label: str


@dataclass(frozen=True, slots=True)
class Notification:
    """One message about an incident, fanned out to every configured channel.

    ``severity`` is the runbook's severity id (``sev1``); ``state`` moves a page through PagerDuty's
    trigger / acknowledge / resolve. ``dedup_key`` groups messages about the same thing (default: the
    incident id, else the notification id).
    """

    title: str
    severity: str
    text: str
    incident_id: str | None = None
    links: tuple[Link, ...] = ()
    dedup_key: str | None = None
    state: State = "open"
    source: str = "andon"
    created_at: datetime = field(default_factory=_utcnow)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise NotifyError("a notification needs a title")
        if self.state not in STATES:
            raise NotifyError(f"notification state {self.state!r} is not one of {', '.join(STATES)}")
        if self.created_at.tzinfo is None:
            raise NotifyError("notification created_at must be timezone-aware (UTC)")
        object.__setattr__(self, "created_at", self.created_at.astimezone(UTC))
        object.__setattr__(self, "links", tuple(self.links))
        if not self.dedup_key:
            object.__setattr__(self, "dedup_key", self.incident_id or self.id)

    @property
    def key(self) -> str:
        """The dedup key (set from the incident id, else the notification id, when not given)."""
        return self.dedup_key or self.id

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape used by the webhook body and the dead-letter file."""
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "state": self.state,
            "incident_id": self.incident_id,
            "text": self.text,
            "links": [{"url": link.url, "label": link.label} for link in self.links],
            "dedup_key": self.key,
            "source": self.source,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Notification:
        return cls(
            id=data["id"],
            title=data["title"],
            severity=data["severity"],
            state=data["state"],
            incident_id=data.get("incident_id"),
            text=data["text"],
            links=tuple(Link(url=x["url"], label=x["label"]) for x in data.get("links", ())),
            dedup_key=data.get("dedup_key"),
            source=data.get("source", "andon"),
            created_at=datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """A successful delivery: which channel, after how many attempts, and what the receiver said."""

    channel: str
    attempts: int
    status: int | None = None
    detail: str = ""


@runtime_checkable
class Notifier(Protocol):
    """A channel: ``send`` delivers or raises DeliveryFailed after its own retries."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def target(self) -> str:
        """Where it sends, masked for logs: ``https://hooks.slack.com/***``."""
        ...

    def send(self, notification: Notification) -> Delivery: ...
