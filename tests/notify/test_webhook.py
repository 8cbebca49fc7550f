"""The signed webhook against a real HTTP receiver: signature, retries, dead letters, masking."""

from __future__ import annotations

import logging
import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andon.notify import (
    DeadLetters,
    DeliveryFailed,
    Dispatcher,
    Link,
    Notification,
    RetryPolicy,
    SignatureInvalid,
    WebhookNotifier,
    sign,
    verify_signature,
)

from .receivers import HttpReceiver, Reply

SECRET = "whsec-5f1c0ffee-topsecret"
TOKEN = "tok-9a8b7c6d5e4f-hidden"
FAST = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, timeout=2.0)


def note(**overrides: object) -> Notification:
    fields: dict[str, object] = {
        "title": "Refund e-mails sent to the wrong customers",
        "severity": "sev1",
        "text": "20 refund e-mails went out after an injected instruction.",
        "incident_id": "INC-0042",
        "links": (Link(url="https://andon.example/incidents/INC-0042", label="Open incident"),),
    }
    fields.update(overrides)
    return Notification(**fields)  # type: ignore[arg-type]


def webhook(receiver: HttpReceiver, sleeps: list[float], **kwargs: object) -> WebhookNotifier:
    options: dict[str, object] = {"policy": FAST, "sleep": sleeps.append, "rng": random.Random(7)}
    options.update(kwargs)
    return WebhookNotifier(
        name="ops-hook",
        url=f"{receiver.url}/hooks/{TOKEN}",
        secret=SECRET,
        **options,  # type: ignore[arg-type]
    )


def test_delivers_signed_json_that_the_receiver_verifies(receiver: HttpReceiver, sleeps: list[float]) -> None:
    notification = note()
    delivery = webhook(receiver, sleeps).send(notification)
    assert (delivery.attempts, delivery.status) == (1, 200)
    [request] = receiver.requests
    assert request.path == f"/hooks/{TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-andon-delivery"] == notification.id
    signed_at = verify_signature(
        SECRET, header=request.headers["x-andon-signature"], body=request.body, now=datetime.now(UTC)
    )
    assert abs(signed_at - datetime.now(UTC).timestamp()) < 60
    body = request.json()
    assert body["type"] == "andon.notification" and body["version"] == 1
    assert body["notification"] == {
        "id": notification.id,
        "title": "Refund e-mails sent to the wrong customers",
        "severity": "sev1",
        "state": "open",
        "incident_id": "INC-0042",
        "text": "20 refund e-mails went out after an injected instruction.",
        "links": [{"url": "https://andon.example/incidents/INC-0042", "label": "Open incident"}],
        "dedup_key": "INC-0042",
        "source": "andon",
        "created_at": notification.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_retries_5xx_with_growing_jittered_backoff_then_delivers(
    receiver: HttpReceiver, sleeps: list[float]
) -> None:
    receiver.fail_next(2, status=503)
    receiver.plan.append(Reply(status=429, body=b"slow down"))
    policy = RetryPolicy(attempts=5, base_delay=0.01, max_delay=1.0, timeout=2.0)
    delivery = webhook(receiver, sleeps, policy=policy).send(note())
    assert delivery.attempts == 4
    assert [r.headers["x-andon-attempt"] for r in receiver.requests] == ["1", "2", "3", "4"]
    assert len({r.headers["x-andon-delivery"] for r in receiver.requests}) == 1
    for request in receiver.requests:  # every attempt is signed and verifies on its own
        verify_signature(
            SECRET, header=request.headers["x-andon-signature"], body=request.body, now=datetime.now(UTC)
        )
    # Wait n lies in [d/2, d] with d = 0.01 * 2^(n-1).
    assert len(sleeps) == 3
    for n, wait in enumerate(sleeps, start=1):
        ceiling = 0.01 * 2 ** (n - 1)
        assert ceiling / 2 <= wait <= ceiling


def test_backoff_is_capped_by_max_delay() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=4.0)
    rng = random.Random(1)
    assert all(2.0 <= policy.delay(n, rng) <= 4.0 for n in range(3, 10))


def test_a_4xx_is_permanent_and_not_retried(receiver: HttpReceiver, sleeps: list[float]) -> None:
    receiver.fail_next(1, status=400, body=b'{"error": "bad schema"}')
    with pytest.raises(DeliveryFailed) as caught:
        webhook(receiver, sleeps).send(note())
    assert caught.value.attempts == 1 and caught.value.status == 400
    assert "HTTP 400" in str(caught.value) and "bad schema" in str(caught.value)
    assert len(receiver.requests) == 1 and sleeps == []


def test_redirects_are_not_followed(receiver: HttpReceiver, sleeps: list[float]) -> None:
    receiver.plan.append(Reply(status=302, body=b"", headers={"Location": "http://127.0.0.1:9/elsewhere"}))
    with pytest.raises(DeliveryFailed, match="HTTP 302"):
        webhook(receiver, sleeps).send(note())
    assert len(receiver.requests) == 1


def test_timeouts_are_retried(receiver: HttpReceiver, sleeps: list[float]) -> None:
    receiver.plan.append(Reply(delay=0.6))
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, timeout=0.2)
    delivery = webhook(receiver, sleeps, policy=policy).send(note())
    assert delivery.attempts == 2
    assert len(receiver.requests) == 2


def test_connection_refused_is_retried_then_fails(sleeps: list[float]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hook = WebhookNotifier(
        name="gone", url=f"http://127.0.0.1:{port}/x/{TOKEN}", secret=SECRET, policy=FAST, sleep=sleeps.append
    )
    with pytest.raises(DeliveryFailed) as caught:
        hook.send(note())
    assert caught.value.attempts == 4 and len(sleeps) == 3
    assert "ConnectionRefusedError" in caught.value.reason


def test_failures_go_to_the_dead_letter_file_and_redeliver_once_fixed(
    receiver: HttpReceiver, sleeps: list[float], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.default = Reply(status=500, body=f"internal error near {TOKEN}".encode())
    letters = DeadLetters(tmp_path / "notify" / "dead-letters.jsonl")
    failed_at = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    dispatcher = Dispatcher([webhook(receiver, sleeps)], dead_letters=letters, clock=lambda: failed_at)
    notification = note()
    with caplog.at_level(logging.DEBUG, logger="andon.notify"):
        report = dispatcher.dispatch(notification)
    assert not report.delivered
    [outcome] = report.failed
    assert (outcome.channel, outcome.attempts, outcome.status) == ("ops-hook", 4, 500)
    assert len(receiver.requests) == 4

    [letter] = letters.letters()
    assert (letter.id, letter.channel, letter.kind) == (outcome.dead_letter, "ops-hook", "webhook")
    assert letter.failed_at == failed_at and letter.attempts == 4
    assert letter.notification == notification
    stored = letters.path.read_text()
    # Neither the URL token nor the signing secret is in the file, the logs or the reason.
    for text in (stored, caplog.text, outcome.reason, repr(dispatcher.channels["ops-hook"])):
        assert TOKEN not in text and SECRET not in text
    assert "http://127.0.0.1" in caplog.text and "/***" in caplog.text

    receiver.default = Reply()
    results = dispatcher.redeliver()
    assert [(r.letter, r.delivered) for r in results] == [(letter.id, True)]
    assert letters.letters() == []
    redelivered = receiver.requests[-1]
    assert redelivered.headers["x-andon-delivery"] == notification.id  # receivers deduplicate on it
    verify_signature(
        SECRET, header=redelivered.headers["x-andon-signature"], body=redelivered.body, now=datetime.now(UTC)
    )


def test_redelivery_that_fails_again_keeps_the_letter_with_the_new_reason(
    receiver: HttpReceiver, sleeps: list[float], tmp_path: Path
) -> None:
    receiver.default = Reply(status=503)
    letters = DeadLetters(tmp_path / "dead.jsonl")
    hook = webhook(receiver, sleeps)
    Dispatcher([hook], dead_letters=letters).dispatch(note())
    receiver.default = Reply(status=410, body=b"gone")
    later = datetime(2026, 11, 23, 9, tzinfo=UTC)
    [result] = letters.redeliver({"ops-hook": hook}, now=later)
    assert not result.delivered and "HTTP 410" in result.reason
    [letter] = letters.letters()
    assert (letter.attempts, letter.failed_at) == (5, later)
    [missing] = letters.redeliver({}, now=later)
    assert missing.reason == "channel 'ops-hook' is not configured"
    assert len(letters.letters()) == 1


def test_verify_signature_rejects_tampering_replay_and_the_wrong_secret() -> None:
    body = b'{"type":"andon.notification"}'
    now = datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    t = int(now.timestamp())
    header = sign(SECRET, timestamp=t, body=body)
    assert verify_signature(SECRET, header=header, body=body, now=now) == t
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_signature(SECRET, header=header, body=body + b" ", now=now)
    with pytest.raises(SignatureInvalid, match="does not match"):
        verify_signature("another-secret", header=header, body=body, now=now)
    with pytest.raises(SignatureInvalid, match="possible replay"):
        verify_signature(SECRET, header=header, body=body, now=now + timedelta(minutes=6))
    with pytest.raises(SignatureInvalid, match="no X-Andon-Signature"):
        verify_signature(SECRET, header=None, body=body, now=now)
    with pytest.raises(SignatureInvalid, match="must look like"):
        verify_signature(SECRET, header="sha256=abc", body=body, now=now)
    # During a rotation the sender may sign with both secrets; either one verifies.
    rotated = header + "," + sign("old-secret", timestamp=t, body=body).split(",")[1]
    assert verify_signature("old-secret", header=rotated, body=body, now=now) == t
