"""Slack incoming webhook: a Block Kit message with a plain-text fallback.

The webhook URL carries its own token, so it is a Secret. Slack answers ``200 ok``; a 4xx such as
``invalid_payload`` or ``channel_is_archived`` is permanent, 429 and 5xx are retried.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from andon.notify.base import Delivery, Notification, Secret, as_secret, mask_url
from andon.notify.http import DEFAULT_POLICY, RetryPolicy, dumps, post_json

# Slack's limits: header text 150 characters, section text 3000, button text 75, 25 elements a block.
_HEADER_MAX, _SECTION_MAX, _BUTTON_MAX, _BUTTONS_MAX = 150, 3000, 75, 25
STATE_MARK = {"open": "", "acknowledged": "[acknowledged] ", "resolved": "[resolved] "}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(text: str) -> str:
    """Escape the three characters mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notification: Notification) -> dict[str, Any]:
    """``{"text": fallback, "blocks": [header, section, context, actions?]}``."""
    n = notification
    headline = f"{STATE_MARK[n.state]}[{n.severity}] {n.title}"
    context = [f"*Severity:* {_escape(n.severity)}", f"*State:* {n.state}"]
    if n.incident_id:
        context.insert(0, f"*Incident:* {_escape(n.incident_id)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(headline, _HEADER_MAX)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(_escape(n.text) or " ", _SECTION_MAX)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "  ·  ".join(context)}]},
    ]
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": _clip(link.label, _BUTTON_MAX)},
            "url": link.url,
        }
        for link in n.links
        if link.url.startswith(("https://", "http://"))
    ][:_BUTTONS_MAX]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    fallback = headline + (f" ({n.incident_id})" if n.incident_id else "")
    return {"text": _clip(fallback, _SECTION_MAX), "blocks": blocks}


class SlackNotifier:
    """Post to one Slack incoming-webhook URL."""

    kind = "slack"

    def __init__(
        self,
        *,
        name: str,
        webhook_url: str | Secret,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._name = name
        self._url = as_secret(webhook_url)
        self._policy = policy
        self._sleep = sleep
        self._rng = rng

    @property
    def name(self) -> str:
        return self._name

    @property
    def target(self) -> str:
        return mask_url(self._url.reveal())

    def __repr__(self) -> str:
        return f"SlackNotifier(name={self._name!r}, target={self.target!r})"

    def send(self, notification: Notification) -> Delivery:
        answer = post_json(
            self._url,
            dumps(slack_payload(notification)),
            channel=self._name,
            policy=self._policy,
            sleep=self._sleep,
            rng=self._rng,
        )
        return Delivery(channel=self._name, attempts=answer.attempts, status=answer.status)
