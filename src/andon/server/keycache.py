"""Verified API keys, remembered for a moment so that an agent's calls skip the store read.

Every request authenticates, and on the decision path the key lookup (a thread hop and a query) cost
as much as the rest of the request. An entry here is keyed by the key's SHA-256 — the plaintext is
never kept — and holds the principal the store returned:

* it is trusted for ``ttl`` seconds, then the next request reads the store again, so a change to
  the key's row (revoked by another server process or the CLI, a new expiry, a new scope) is seen
  within ``ttl``;
* a key revoked through this process is forgotten as soon as the revocation commits (``forget``),
  and a lookup that raced with the revocation is not remembered (the generation check in ``put``);
* the key's own expiry is checked on every hit, so an expired key is never served from memory.

Refusals are not remembered: an unknown, revoked or expired key costs a store read every time.

Refresh ahead: once an entry is past half its ``ttl``, the next request that hits it still gets the
cached principal and also starts one re-verification in the background (``claim_refresh``, then
``put`` or ``drop``; see ``auth.refresh_ahead``). A key in steady use is so re-read before its entry
lapses, and no request ever waits for the store read — when every entry lapsed at once, each of an
agent's concurrent requests went to the store together, once a second. Nothing is served longer than
before: an entry still lapses ``ttl`` after its last verification.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from andon.server.principals import Principal
from andon.store.types import utcnow

MAX_ENTRIES = 10_000  # more live keys than one server sees; beyond it, stale entries are pruned


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    until: float  # time.monotonic() after which the store is read again


class KeyCache:
    """Principals of recently verified keys, by key hash; ``ttl=0`` remembers nothing."""

    def __init__(self, *, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, _Entry] = {}
        self._generation = 0  # bumped by every forget: a lookup begun before it is not remembered
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()  # key hashes being re-verified in the background

    @property
    def generation(self) -> int:
        """Read before looking a key up in the store; pass it to ``put``."""
        return self._generation

    def get(self, key_hash: str) -> Principal | None:
        """The principal of a key verified less than ``ttl`` ago and not expired since, else None."""
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        expires_at = entry.principal.expires_at
        if entry.until <= time.monotonic() or (expires_at is not None and expires_at <= utcnow()):
            with self._lock:
                if self._entries.get(key_hash) is entry:
                    del self._entries[key_hash]
            return None
        return entry.principal

    def put(self, key_hash: str, principal: Principal, *, generation: int) -> None:
        """Remember a key the store just verified, unless a key was forgotten since ``generation``."""
        if self.ttl <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                now = time.monotonic()
                self._entries = {h: e for h, e in self._entries.items() if e.until > now}
            self._entries[key_hash] = _Entry(principal, time.monotonic() + self.ttl)

    def claim_refresh(self, key_hash: str) -> bool:
        """True once per half-``ttl`` for a cached key: the caller re-verifies it, then ``refreshed``."""
        entry = self._entries.get(key_hash)
        if entry is None or entry.until - time.monotonic() > self.ttl / 2:
            return False
        with self._lock:
            if key_hash in self._refreshing:
                return False
            self._refreshing.add(key_hash)
            return True

    def refreshed(self, key_hash: str) -> None:
        """The re-verification claimed by ``claim_refresh`` is over (whatever its result)."""
        with self._lock:
            self._refreshing.discard(key_hash)

    def drop(self, key_hash: str) -> None:
        """Forget one key hash: the store no longer accepts that key."""
        with self._lock:
            self._entries.pop(key_hash, None)

    def forget(self, key_id: str) -> None:
        """Drop the key ``key_id`` (call after its revocation commits) and refuse racing lookups."""
        with self._lock:
            self._generation += 1
            self._entries = {h: e for h, e in self._entries.items() if e.principal.id != key_id}
