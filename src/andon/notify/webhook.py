"""Generic webhook: the notification as JSON, signed with HMAC-SHA256, retried with backoff.

Headers on every request: ``Content-Type: application/json``, ``X-Andon-Signature`` (see signing.py),
``X-Andon-Delivery`` (the notification id, the same on every retry and redelivery — deduplicate on it)
and ``X-Andon-Attempt``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from andon.notify.base import Delivery, Notification, Secret, as_secret, mask_url
from andon.notify.http import DEFAULT_POLICY, RetryPolicy, dumps, post_json
from andon.notify.signing import SIGNATURE_HEADER, sign

PAYLOAD_TYPE = "andon.notification"
PAYLOAD_VERSION = 1


def _utcnow() -> datetime:
    return datetime.now(UTC)


def webhook_payload(notification: Notification) -> dict[str, Any]:
    """The JSON body: ``{"type": "andon.notification", "version": 1, "notification": {...}}``."""
    return {"type": PAYLOAD_TYPE, "version": PAYLOAD_VERSION, "notification": notification.as_dict()}


class WebhookNotifier:
    """POST each notification to one URL, signed with a shared secret."""

    kind = "webhook"

    def __init__(
        self,
        *,
        name: str,
        url: str | Secret,
        secret: str | Secret,
        policy: RetryPolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._name = name
        self._url = as_secret(url)
        self._secret = as_secret(secret)
        self._policy = policy
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    @property
    def name(self) -> str:
        return self._name

    @property
    def target(self) -> str:
        return mask_url(self._url.reveal())

    def __repr__(self) -> str:
        return f"WebhookNotifier(name={self._name!r}, target={self.target!r})"

    def send(self, notification: Notification) -> Delivery:
        body = dumps(webhook_payload(notification))

        def headers(attempt: int) -> dict[str, str]:
            # Signed afresh on every attempt so a long backoff never outlives the receiver's tolerance.
            timestamp = int(self._clock().timestamp())
            return {
                SIGNATURE_HEADER: sign(self._secret, timestamp=timestamp, body=body),
                "X-Andon-Delivery": notification.id,
                "X-Andon-Attempt": str(attempt),
            }

        answer = post_json(
            self._url,
            body,
            channel=self._name,
            headers=headers,
            policy=self._policy,
            sleep=self._sleep,
            rng=self._rng,
            secrets=(self._secret,),
        )
        return Delivery(channel=self._name, attempts=answer.attempts, status=answer.status)
