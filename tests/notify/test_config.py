"""Channels built from configuration, with secrets only from environment variables."""

from __future__ import annotations

import pytest

from andon.notify import (
    EmailNotifier,
    Notification,
    NotifyError,
    PagerDutyNotifier,
    SlackNotifier,
    WebhookNotifier,
    build_channel,
    channels_from_config,
)

from .receivers import HttpReceiver, Reply


def test_builds_every_kind_and_the_result_delivers(receiver: HttpReceiver) -> None:
    env = {
        "HOOK_URL": receiver.url + "/hook/tok-123456",
        "HOOK_SECRET": "s3cr3t-value",
        "SLACK_URL": receiver.url + "/services/T/B/tok-abcdef",
        "PD_KEY": "routingkey-0123456789",
        "SMTP_PASSWORD": "pw-0123456",
    }
    config = {
        "ops-hook": {"kind": "webhook", "url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"},
        "incidents": {"kind": "slack", "webhook_url_env": "SLACK_URL"},
        "ai-ops": {"kind": "pagerduty", "routing_key_env": "PD_KEY", "base_url": receiver.url},
        "mail": {
            "kind": "email",
            "host": "127.0.0.1",
            "port": 2525,
            "tls": "none",
            "sender": "andon@acme.example",
            "recipients": ["oncall@acme.example"],
            "username": "andon",
            "password_env": "SMTP_PASSWORD",
        },
    }
    channels = channels_from_config(config, env=env)
    assert [type(c) for c in channels] == [WebhookNotifier, SlackNotifier, PagerDutyNotifier, EmailNotifier]
    assert [c.name for c in channels] == ["ops-hook", "incidents", "ai-ops", "mail"]
    assert channels[3].target == "smtp://127.0.0.1:2525"
    receiver.default = Reply(status=202, body=b"{}")
    for channel in channels[:3]:
        channel.send(Notification(title="configured", severity="sev2", text="hello"))
    assert [r.path for r in receiver.requests] == [
        "/hook/tok-123456",
        "/services/T/B/tok-abcdef",
        "/v2/enqueue",
    ]
    assert receiver.requests[2].json()["routing_key"] == "routingkey-0123456789"
    assert all("tok-" not in repr(c) and "routingkey" not in repr(c) for c in channels)


@pytest.mark.parametrize(
    ("entry", "env", "message"),
    [
        ({"kind": "sms"}, {}, "kind must be one of webhook, slack, pagerduty, email, not 'sms'"),
        (
            {"kind": "slack", "webhook_url": "https://hooks.slack.com/services/x"},
            {},
            "'webhook_url' is a secret",
        ),
        ({"kind": "slack"}, {}, "needs 'webhook_url_env'"),
        ({"kind": "slack", "webhook_url_env": "NOPE"}, {}, "environment variable NOPE is not set"),
        (
            {"kind": "pagerduty", "routing_key_env": "K", "colour": "red"},
            {"K": "k"},
            "unknown field(s) colour",
        ),
        ({"kind": "email", "host": "h"}, {}, "needs recipients, sender"),
        (
            {
                "kind": "email",
                "host": "h",
                "sender": "a@b.example",
                "recipients": ["c@d.example"],
                "tls": "tls1.0",
            },
            {},
            "tls must be starttls, ssl or none",
        ),
    ],
)
def test_configuration_mistakes_name_the_channel_and_field(
    entry: dict[str, object], env: dict[str, str], message: str
) -> None:
    with pytest.raises(NotifyError) as caught:
        build_channel("chan", entry, env=env)
    assert message in str(caught.value) and "'chan'" in str(caught.value)
