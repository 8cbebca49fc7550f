"""The cache of verified API keys: what it may serve from memory, and what it must never serve."""

from __future__ import annotations

import time
from datetime import timedelta

from andon.server.keycache import KeyCache
from andon.server.principals import Principal
from andon.store.types import utcnow


def principal(key_id: str = "key_1", *, expires_in: float | None = None) -> Principal:
    expires_at = None if expires_in is None else utcnow() + timedelta(seconds=expires_in)
    return Principal(
        kind="key", id=key_id, actor="svc", role="agent", workflows=frozenset({"w"}), expires_at=expires_at
    )


def test_a_verified_key_is_served_until_its_time_is_up() -> None:
    cache = KeyCache(ttl=0.2)
    who = principal()
    cache.put("h1", who, generation=cache.generation)
    assert cache.get("h1") is who
    assert cache.get("h2") is None, "only the key that was verified"
    time.sleep(0.25)
    assert cache.get("h1") is None


def test_an_expired_key_is_never_served() -> None:
    cache = KeyCache(ttl=60)
    cache.put("h1", principal(expires_in=0.1), generation=cache.generation)
    assert cache.get("h1") is not None
    time.sleep(0.15)
    assert cache.get("h1") is None


def test_forget_drops_the_key_and_a_lookup_that_raced_with_it() -> None:
    cache = KeyCache(ttl=60)
    cache.put("h1", principal("key_1"), generation=cache.generation)
    cache.put("h2", principal("key_2"), generation=cache.generation)
    before = cache.generation  # a lookup reads the store before the revocation commits...
    cache.forget("key_1")
    assert cache.get("h1") is None and cache.get("h2") is not None
    cache.put("h1", principal("key_1"), generation=before)  # ...and answers after it: not remembered
    assert cache.get("h1") is None


def test_no_cache_time_remembers_nothing() -> None:
    cache = KeyCache(ttl=0)
    cache.put("h1", principal(), generation=cache.generation)
    assert cache.get("h1") is None


def test_a_refresh_is_claimed_once_past_half_the_time() -> None:
    cache = KeyCache(ttl=0.4)
    cache.put("h1", principal(), generation=cache.generation)
    assert not cache.claim_refresh("h1"), "fresh: nothing to do"
    assert not cache.claim_refresh("h2"), "not cached: the request reads the store anyway"
    time.sleep(0.22)
    assert cache.claim_refresh("h1")
    assert not cache.claim_refresh("h1"), "one refresh at a time"
    assert cache.get("h1") is not None, "still served while it is re-read"
    cache.put("h1", principal(), generation=cache.generation)
    cache.refreshed("h1")
    assert not cache.claim_refresh("h1"), "fresh again"
    cache.drop("h1")
    assert cache.get("h1") is None
