"""One notification fanned out to every channel; a failing one is dead-lettered, the others deliver."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andon.notify import (
    DeadLetters,
    Delivery,
    DeliveryFailed,
    Dispatcher,
    EmailNotifier,
    Notification,
    Notifier,
    NotifyError,
    PagerDutyNotifier,
    RetryPolicy,
    SlackNotifier,
    WebhookNotifier,
)

from .receivers import HttpReceiver, MailHandler, Reply, smtp_controller

FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.02, timeout=2.0)


@pytest.fixture
def mail() -> Iterator[tuple[MailHandler, int]]:
    handler = MailHandler()
    controller = smtp_controller(handler)
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def channels(receiver: HttpReceiver, mail_port: int, sleeps: list[float]) -> list[Notifier]:
    common: dict[str, object] = {"policy": FAST, "sleep": sleeps.append, "rng": random.Random(1)}
    return [
        WebhookNotifier(name="hook", url=receiver.url + "/hook/abcdef123", secret="s3cret-s3cret", **common),  # type: ignore[arg-type]
        SlackNotifier(name="slack", webhook_url=receiver.url + "/services/T1/B2/xyz123456", **common),  # type: ignore[arg-type]
        PagerDutyNotifier(name="pd", routing_key="k" * 32, base_url=receiver.url, **common),  # type: ignore[arg-type]
        EmailNotifier(
            name="mail",
            host="127.0.0.1",
            port=mail_port,
            tls="none",
            sender="andon@acme.example",
            recipients=["oncall@acme.example"],
            policy=FAST,
            sleep=sleeps.append,
        ),
    ]


def test_fans_out_to_every_channel(
    receiver: HttpReceiver, mail: tuple[MailHandler, int], sleeps: list[float], tmp_path: Path
) -> None:
    handler, port = mail
    dispatcher = Dispatcher(channels(receiver, port, sleeps), dead_letters=DeadLetters(tmp_path / "dl.jsonl"))
    notification = Notification(
        title="Workflow paused", severity="sev2", text="Paused by Omar.", incident_id="INC-7"
    )
    report = dispatcher.dispatch(notification)
    assert report.delivered
    assert sorted(o.channel for o in report.outcomes) == ["hook", "mail", "pd", "slack"]
    assert sorted(r.path for r in receiver.requests) == [
        "/hook/abcdef123",
        "/services/T1/B2/xyz123456",
        "/v2/enqueue",
    ]
    assert len(handler.messages) == 1
    assert DeadLetters(tmp_path / "dl.jsonl").letters() == []


def test_one_failing_channel_is_dead_lettered_and_the_others_deliver(
    receiver: HttpReceiver, mail: tuple[MailHandler, int], sleeps: list[float], tmp_path: Path
) -> None:
    handler, port = mail
    letters = DeadLetters(tmp_path / "dl.jsonl")
    dispatcher = Dispatcher(channels(receiver, port, sleeps), dead_letters=letters)

    receiver.routes["/services/"] = Reply(status=503, body=b"slack is down")  # only Slack fails
    report = dispatcher.dispatch(
        Notification(title="Clock overdue", severity="sev1", text="GDPR 72h passed.", incident_id="INC-8")
    )
    [failed] = report.failed
    assert (failed.channel, failed.attempts, failed.status) == ("slack", 2, 503)
    assert {o.channel for o in report.outcomes if o.delivered} == {"hook", "pd", "mail"}
    [letter] = letters.letters()
    assert letter.channel == "slack" and letter.id == failed.dead_letter
    assert len(handler.messages) == 1


class Broken:
    """A channel with a bug: its exception text holds a secret that must not reach logs or reports."""

    name, kind, target = "broken", "custom", "custom://***"
    secret = "-".join(("leaky", "secret", "value"))  # built at run time, as a real secret would be

    def send(self, notification: Notification) -> Delivery:
        raise RuntimeError(f"token={self.secret} went wrong")


def test_a_channel_bug_is_reported_without_its_message_and_others_still_deliver(
    receiver: HttpReceiver, sleeps: list[float], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hook = WebhookNotifier(name="hook", url=receiver.url + "/h", secret="s", policy=FAST, sleep=sleeps.append)
    letters = DeadLetters(tmp_path / "dl.jsonl")
    dispatcher = Dispatcher([Broken(), hook], dead_letters=letters)
    with caplog.at_level(logging.ERROR, logger="andon.notify"):
        report = dispatcher.dispatch(Notification(title="t", severity="sev3", text="x"))
    outcomes = {o.channel: o for o in report.outcomes}
    assert outcomes["hook"].delivered
    assert outcomes["broken"].reason == "internal error RuntimeError"
    assert "RuntimeError" in caplog.text and "test_dispatch.py" in caplog.text
    assert "leaky-secret-value" not in caplog.text + letters.path.read_text()


def test_only_named_channels_and_configuration_errors(
    receiver: HttpReceiver, sleeps: list[float], tmp_path: Path
) -> None:
    hook = WebhookNotifier(name="hook", url=receiver.url + "/h", secret="s", policy=FAST, sleep=sleeps.append)
    other = WebhookNotifier(
        name="other", url=receiver.url + "/o", secret="s", policy=FAST, sleep=sleeps.append
    )
    dispatcher = Dispatcher([hook, other])
    report = dispatcher.dispatch(Notification(title="t", severity="sev3", text="x"), only=["other"])
    assert [o.channel for o in report.outcomes] == ["other"] and [r.path for r in receiver.requests] == ["/o"]
    with pytest.raises(NotifyError, match="no channel named nope"):
        dispatcher.dispatch(Notification(title="t", severity="sev3", text="x"), only=["nope"])
    with pytest.raises(NotifyError, match="repeated: hook"):
        Dispatcher([hook, hook])
    with pytest.raises(NotifyError, match="keeps no dead letters"):
        dispatcher.redeliver()


def test_default_dead_letter_file_lives_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANDON_DATA_DIR", str(tmp_path / "data"))
    letters = DeadLetters.default()
    assert letters.path == tmp_path / "data" / "notify" / "dead-letters.jsonl"
    letters.path.parent.mkdir(parents=True)
    letters.path.write_text('{"id": "x"}\n')
    with pytest.raises(NotifyError, match=r"dead-letters.jsonl:1: unreadable dead letter"):
        letters.letters()
    assert json.loads(letters.path.read_text()) == {"id": "x"}  # nothing was lost


class FailsWhileAnotherFailureIsRecorded:
    """Redelivers slowly; meanwhile a dispatcher records a new failure in the same file."""

    name, kind, target = "slow", "custom", "custom://***"

    def __init__(self, letters: DeadLetters) -> None:
        self.letters = letters

    def send(self, notification: Notification) -> Delivery:
        # Would deadlock if redeliver() held the file lock while sending.
        failure = DeliveryFailed(channel="other", reason="HTTP 503", attempts=3)
        self.letters.add(kind="webhook", error=failure, notification=notification, now=datetime.now(UTC))
        return Delivery(channel=self.name, attempts=1)


def test_a_failure_recorded_during_redelivery_is_kept(tmp_path: Path) -> None:
    letters = DeadLetters(tmp_path / "dl.jsonl")
    first = letters.add(
        kind="custom",
        error=DeliveryFailed(channel="slow", reason="timeout", attempts=2),
        notification=Notification(title="t", severity="sev3", text="x"),
        now=datetime.now(UTC),
    )
    [result] = letters.redeliver({"slow": FailsWhileAnotherFailureIsRecorded(letters)}, now=datetime.now(UTC))
    assert result.letter == first.id and result.delivered
    assert [(x.channel, x.reason) for x in letters.letters()] == [("other", "HTTP 503")]


def test_notifications_refuse_what_a_receiver_could_not_use() -> None:
    with pytest.raises(NotifyError, match="needs a title"):
        Notification(title="  ", severity="sev1", text="x")
    with pytest.raises(NotifyError, match="timezone-aware"):
        Notification(
            title="t", severity="sev1", text="x", created_at=datetime(2026, 11, 22, 23)
        )  # naive on purpose
    with pytest.raises(NotifyError, match="state 'closed'"):
        Notification(title="t", severity="sev1", text="x", state="closed")  # type: ignore[arg-type]
    assert Notification(title="t", severity="sev1", text="x", incident_id="INC-1").dedup_key == "INC-1"
    plain = Notification(title="t", severity="sev1", text="x")
    assert plain.dedup_key == plain.id
    assert Notification.from_dict(plain.as_dict()) == plain
