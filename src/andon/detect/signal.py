"""What detectors read (ledger events) and what they emit (signals), plus the small shared helpers."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

Hint = Literal["low", "medium", "high", "critical"]
HINTS: tuple[Hint, ...] = ("low", "medium", "high", "critical")
CHANGING_EFFECTS = frozenset({"write", "send", "delete", "spend"})
MAX_EVIDENCE = 100  # indexes carried by one signal; the ledger holds the rest


class LedgerEvent(Protocol):
    """An event with its leaf index, as ``read_events`` returns it (``StoredEvent``) or pushed in-process."""

    @property
    def index(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def workflow(self) -> str | None: ...
    @property
    def run_id(self) -> str | None: ...
    @property
    def time(self) -> datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Observed:
    """A ledger event known by its index, for pushing events in-process right after ``append``."""

    index: int
    kind: str
    actor: str
    workflow: str | None
    run_id: str | None
    time: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Signal:
    """What a detector saw: an incident class, the workflow, the ledger indexes that show it.

    ``severity`` is a hint (low < medium < high < critical): an incident opened from the signal takes
    its class's default severity from the runbook and may raise it for a strong hint.
    ``dedup_key`` names "the same thing seen again": the engine sends one signal per key per cool-down.
    ``time`` is the time of the event that triggered it.
    """

    detector: str
    incident_class: str
    workflow: str | None
    severity: Hint
    summary: str
    evidence: tuple[int, ...]
    dedup_key: str
    time: datetime
    details: dict[str, Any] = field(default_factory=dict)


# The last (object, digest) pair: the detectors of one event fingerprint the same arguments. One tuple,
# read and replaced whole, so engines on other threads never see one object with another's digest; the
# reference held here keeps the object, and so its identity, alive.
_last_fingerprint: list[tuple[Any, str]] = [(None, "")]


def fingerprint(value: Any) -> str:
    """A short stable digest of JSON-like data (sorted keys), for "the same arguments"."""
    seen, digest = _last_fingerprint[0]
    if value is seen:
        return digest
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
    _last_fingerprint[0] = (value, digest)
    return digest


def evidence(indexes: Any) -> tuple[int, ...]:
    """At most ``MAX_EVIDENCE`` indexes, ascending: the first ones and the latest ones."""
    ordered = sorted(set(indexes))
    if len(ordered) <= MAX_EVIDENCE:
        return tuple(ordered)
    half = MAX_EVIDENCE // 2
    return tuple(ordered[:half] + ordered[-half:])


K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """A dict that forgets its least recently used entries beyond ``limit``: bounded state under long runs."""

    __slots__ = ("_data", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        if len(self._data) > self.limit:
            self._data.popitem(last=False)

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)


def texts(value: Any, *, budget: int = 20_000) -> Iterator[str]:
    """Every string inside JSON-like ``value`` (keys excluded), up to ``budget`` characters in all."""
    stack = [value]
    while stack and budget > 0:
        item = stack.pop()
        if isinstance(item, str):
            if item:
                yield item[:budget]
                budget -= len(item)
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list | tuple):
            stack.extend(reversed(item))
