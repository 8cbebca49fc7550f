"""Slack incoming webhooks and PagerDuty Events API v2 against a real local HTTP server."""

from __future__ import annotations

import json
import random

import pytest

from andon.notify import (
    DeliveryFailed,
    Link,
    Notification,
    NotifyError,
    PagerDutyNotifier,
    RetryPolicy,
    SlackNotifier,
)

from .receivers import HttpReceiver, Reply

FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, timeout=2.0)
SLACK_PATH = "/services/T0ANDON01/B0ANDON02/xoxb9secretslackpath"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefabcdef"


def note(**overrides: object) -> Notification:
    fields: dict[str, object] = {
        "title": "Tier changes <rolled back> & frozen",
        "severity": "sev1",
        "text": "Write tools are frozen on *support-agent*.\nSee <the incident> & the ledger.",
        "incident_id": "INC-0042",
        "links": (
            Link(url="https://andon.example/incidents/INC-0042", label="Open incident"),
            Link(url="mailto:dpo@acme.example", label="not a web link"),
        ),
    }
    fields.update(overrides)
    return Notification(**fields)  # type: ignore[arg-type]


def slack(receiver: HttpReceiver, sleeps: list[float]) -> SlackNotifier:
    return SlackNotifier(
        name="slack-incidents",
        webhook_url=receiver.url + SLACK_PATH,
        policy=FAST,
        sleep=sleeps.append,
        rng=random.Random(3),
    )


def pagerduty(receiver: HttpReceiver, sleeps: list[float], **kwargs: object) -> PagerDutyNotifier:
    return PagerDutyNotifier(
        name="pd-ai-ops",
        routing_key=ROUTING_KEY,
        base_url=receiver.url + "/",
        policy=FAST,
        sleep=sleeps.append,
        **kwargs,  # type: ignore[arg-type]
    )


def test_slack_gets_block_kit_with_escaped_text_and_link_buttons(
    receiver: HttpReceiver, sleeps: list[float]
) -> None:
    delivery = slack(receiver, sleeps).send(note())
    assert delivery.status == 200
    [request] = receiver.requests
    assert request.path == SLACK_PATH
    body = request.json()
    assert body["text"] == "[sev1] Tier changes <rolled back> & frozen (INC-0042)"
    header, section, context, actions = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[sev1] Tier changes <rolled back> & frozen"},
    }
    assert section["text"] == {
        "type": "mrkdwn",
        "text": "Write tools are frozen on *support-agent*.\nSee &lt;the incident&gt; &amp; the ledger.",
    }
    assert context["elements"][0]["text"] == "*Incident:* INC-0042  ·  *Severity:* sev1  ·  *State:* open"
    assert actions["elements"] == [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": "Open incident"},
            "url": "https://andon.example/incidents/INC-0042",
        }
    ]


def test_slack_limits_are_respected_for_long_titles(receiver: HttpReceiver, sleeps: list[float]) -> None:
    slack(receiver, sleeps).send(note(title="x" * 400, text="y" * 5000, links=(), state="resolved"))
    body = receiver.requests[0].json()
    assert len(body["blocks"][0]["text"]["text"]) == 150
    assert body["blocks"][0]["text"]["text"].startswith("[resolved] [sev1] xxx")
    assert len(body["blocks"][1]["text"]["text"]) == 3000
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]


def test_slack_permanent_error_names_slacks_reason_but_not_the_token(
    receiver: HttpReceiver, sleeps: list[float]
) -> None:
    receiver.fail_next(1, status=404, body=b"no_service")
    with pytest.raises(DeliveryFailed) as caught:
        slack(receiver, sleeps).send(note())
    message = str(caught.value)
    assert "HTTP 404 no_service" in message and "slack-incidents" in message
    assert "xoxb9secretslackpath" not in message and "T0ANDON01" not in message
    assert "xoxb9secretslackpath" not in repr(slack(receiver, sleeps))


def test_pagerduty_trigger_acknowledge_resolve_share_the_dedup_key(
    receiver: HttpReceiver, sleeps: list[float]
) -> None:
    receiver.default = Reply(
        status=202,
        body=json.dumps(
            {"status": "success", "message": "Event processed", "dedup_key": "INC-0042"}
        ).encode(),
    )
    pd = pagerduty(receiver, sleeps)
    opened = note()
    delivery = pd.send(opened)
    assert (delivery.status, delivery.detail) == (202, "INC-0042")
    pd.send(note(state="acknowledged"))
    pd.send(note(state="resolved"))
    assert [r.path for r in receiver.requests] == ["/v2/enqueue"] * 3
    trigger, ack, resolve = (r.json() for r in receiver.requests)
    assert trigger == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "INC-0042",
        "payload": {
            "summary": "Tier changes <rolled back> & frozen (INC-0042)",
            "source": "andon",
            "severity": "critical",
            "timestamp": opened.created_at.isoformat().replace("+00:00", "Z"),
            "custom_details": {
                "text": opened.text,
                "incident_id": "INC-0042",
                "andon_severity": "sev1",
                "notification_id": opened.id,
            },
        },
        "links": [
            {"href": "https://andon.example/incidents/INC-0042", "text": "Open incident"},
            {"href": "mailto:dpo@acme.example", "text": "not a web link"},
        ],
        "client": "Andon",
    }
    assert ack == {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": "INC-0042"}
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "INC-0042"}


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("sev1", "critical"),
        ("sev2", "error"),
        ("sev3", "warning"),
        ("sev4", "info"),
        ("warning", "warning"),
        ("p9", "error"),
        ("minor", "info"),
    ],
)
def test_pagerduty_severity_mapping(
    receiver: HttpReceiver, sleeps: list[float], severity: str, expected: str
) -> None:
    receiver.default = Reply(status=202, body=b"{}")
    pagerduty(
        receiver,
        sleeps,
        severity_map={
            "sev1": "critical",
            "sev2": "error",
            "sev3": "warning",
            "sev4": "info",
            "minor": "info",
        },
    ).send(note(severity=severity))
    assert receiver.requests[0].json()["payload"]["severity"] == expected


def test_pagerduty_rejects_unknown_severity_words() -> None:
    with pytest.raises(NotifyError, match="not urgent"):
        PagerDutyNotifier(name="pd", routing_key=ROUTING_KEY, severity_map={"sev1": "urgent"})


def test_pagerduty_retries_rate_limits_and_keeps_the_routing_key_out_of_errors(
    receiver: HttpReceiver, sleeps: list[float]
) -> None:
    receiver.fail_next(1, status=429, body=b'{"status":"throttle event"}')
    receiver.default = Reply(status=202, body=b'{"status":"success","dedup_key":"INC-0042"}')
    assert pagerduty(receiver, sleeps).send(note()).attempts == 2
    receiver.default = Reply(status=400, body=f'{{"errors":["bad key {ROUTING_KEY}"]}}'.encode())
    with pytest.raises(DeliveryFailed) as caught:
        pagerduty(receiver, sleeps).send(note())
    assert "HTTP 400" in str(caught.value) and ROUTING_KEY not in str(caught.value)
    assert ROUTING_KEY not in repr(pagerduty(receiver, sleeps))
