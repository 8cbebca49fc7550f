"""PagerDuty Events API v2: trigger, acknowledge and resolve alerts, grouped by a dedup key.

``POST {base_url}/v2/enqueue`` with the integration's routing key (a Secret). An open notification
triggers an alert; acknowledged and resolved ones send only the routing key, action and dedup key, which
is how PagerDuty finds the alert to update. ``base_url`` is configurable so tests (and EU accounts,
``https://events.eu.pagerduty.com``) can point elsewhere.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from andon.notify.base import Delivery, Notification, NotifyError, Secret, as_secret, mask_url
from andon.notify.http import DEFAULT_POLICY, RetryPolicy, dumps, post_json

DEFAULT_BASE_URL = "https://events.pagerduty.com"
PD_SEVERITIES = ("critical", "error", "warning", "info")
# Runbook severity ids to PagerDuty's four; PagerDuty's own words pass through unchanged.
DEFAULT_SEVERITY_MAP: dict[str, str] = {
    "sev1": "critical",
    "sev2": "error",
    "sev3": "warning",
    "sev4": "info",
}
EVENT_ACTIONS = {"open": "trigger", "acknowledged": "acknowledge", "resolved": "resolve"}
_SUMMARY_MAX, _DEDUP_MAX = 1024, 255


def pagerduty_event(
    notification: Notification,
    *,
    routing_key: str,
    severity_map: Mapping[str, str] = DEFAULT_SEVERITY_MAP,
    default_severity: str = "error",
) -> dict[str, Any]:
    """The Events API v2 body for one notification."""
    n = notification
    dedup_key = n.key
    if len(dedup_key) > _DEDUP_MAX:
        raise NotifyError(f"PagerDuty dedup keys are at most {_DEDUP_MAX} characters; got {len(dedup_key)}")
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": EVENT_ACTIONS[n.state],
        "dedup_key": dedup_key,
    }
    if n.state != "open":
        return event
    severity = n.severity if n.severity in PD_SEVERITIES else severity_map.get(n.severity, default_severity)
    summary = n.title if not n.incident_id else f"{n.title} ({n.incident_id})"
    event["payload"] = {
        "summary": summary[:_SUMMARY_MAX],
        "source": n.source,
        "severity": severity,
        "timestamp": n.created_at.isoformat().replace("+00:00", "Z"),
        "custom_details": {
            "text": n.text,
            "incident_id": n.incident_id,
            "andon_severity": n.severity,
            "notification_id": n.id,
        },
    }
    if n.links:
        event["links"] = [{"href": link.url, "text": link.label} for link in n.links]
    event["client"] = "Andon"
    return event


class PagerDutyNotifier:
    """Send Events API v2 events to one PagerDuty service integration."""

    kind = "pagerduty"

    def __init__(
        self,
        *,
        name: str,
        routing_key: str | Secret,
        base_url: str = DEFAULT_BASE_URL,
        severity_map: Mapping[str, str] = DEFAULT_SEVERITY_MAP,
        default_severity: str = "error",
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        bad = sorted({default_severity, *severity_map.values()} - set(PD_SEVERITIES))
        if bad:
            raise NotifyError(f"PagerDuty severities are {', '.join(PD_SEVERITIES)}; not {', '.join(bad)}")
        self._name = name
        self._key = as_secret(routing_key)
        self._endpoint = Secret(base_url.rstrip("/") + "/v2/enqueue")
        self._severity_map = dict(severity_map)
        self._default = default_severity
        self._policy = policy
        self._sleep = sleep
        self._rng = rng

    @staticmethod
    def default_map() -> dict[str, str]:
        return dict(DEFAULT_SEVERITY_MAP)

    @property
    def name(self) -> str:
        return self._name

    @property
    def target(self) -> str:
        return mask_url(self._endpoint.reveal())

    def __repr__(self) -> str:
        return f"PagerDutyNotifier(name={self._name!r}, target={self.target!r})"

    def send(self, notification: Notification) -> Delivery:
        event = pagerduty_event(
            notification,
            routing_key=self._key.reveal(),
            severity_map=self._severity_map,
            default_severity=self._default,
        )
        answer = post_json(
            self._endpoint,
            dumps(event),
            channel=self._name,
            policy=self._policy,
            sleep=self._sleep,
            rng=self._rng,
            secrets=(self._key,),
        )
        try:
            reply = answer.json()
        except ValueError:
            reply = None
        dedup = reply.get("dedup_key", "") if isinstance(reply, dict) else ""
        return Delivery(channel=self._name, attempts=answer.attempts, status=answer.status, detail=str(dedup))
