"""POST JSON with retries: exponential backoff with jitter on 5xx, 408, 429, timeouts and lost connections.

Standard library only (``urllib.request``), so notifications need no extra. Redirects are not followed
(a webhook that moved should be reconfigured, not chased with a signed body), and the environment's
proxy is bypassed for loopback targets.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from andon.notify.base import DeliveryFailed, Secret, mask_url, scrub, secret_parts

log = logging.getLogger("andon.notify")

USER_AGENT = "andon-notify/1"
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; before try n+1 wait a random time in [d/2, d], d = base × 2^(n-1)."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 10.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


DEFAULT_POLICY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    attempts: int

    def json(self) -> Any:
        return json.loads(self.body or b"null")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


def _opener(url: str) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [_NoRedirect()]
    if urlsplit(url).hostname in _LOOPBACK:
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def post_json(
    url: Secret,
    body: bytes,
    *,
    channel: str,
    headers: Callable[[int], Mapping[str, str]] | None = None,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
    secrets: tuple[Secret | None, ...] = (),
) -> Response:
    """POST ``body`` until a 2xx, a permanent failure, or the attempts run out.

    ``headers(attempt)`` is called for every attempt, so a signature can carry a fresh timestamp.
    Raises DeliveryFailed with a masked target and a scrubbed reason.
    """
    rng = rng or random.Random()
    target = mask_url(url.reveal())
    hidden = (*secret_parts(url.reveal()), *secrets)
    opener = _opener(url.reveal())
    reason, status = "no attempt made", None
    for attempt in range(1, policy.attempts + 1):
        extra = dict(headers(attempt)) if headers else {}
        request = urllib.request.Request(
            url.reveal(),
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **extra},
        )
        try:
            with opener.open(request, timeout=policy.timeout) as answer:
                return Response(status=answer.status, body=answer.read(), attempts=attempt)
        except urllib.error.HTTPError as exc:
            status = exc.code
            text = scrub(exc.read()[:200].decode("utf-8", "replace"), hidden).strip()
            reason = f"HTTP {exc.code}" + (f" {text}" if text else "")
            if exc.code not in RETRYABLE_STATUS:
                failed = DeliveryFailed(channel=channel, reason=reason, attempts=attempt, status=status)
                raise failed from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            # OSError covers refused and reset connections and timeouts; HTTPException a cut-off reply.
            status = None
            cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            reason = scrub(f"{type(cause).__name__}: {cause}", hidden)
        if attempt < policy.attempts:
            wait = policy.delay(attempt, rng)
            log.warning(
                "notify %s to %s failed (%s); retry %d in %.2fs", channel, target, reason, attempt, wait
            )
            sleep(wait)
    log.error("notify %s to %s gave up after %d attempts: %s", channel, target, policy.attempts, reason)
    raise DeliveryFailed(channel=channel, reason=reason, attempts=policy.attempts, status=status)


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON, the exact bytes that are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
