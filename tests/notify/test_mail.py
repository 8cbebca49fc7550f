"""E-mail over SMTP against a real aiosmtpd server on 127.0.0.1: plain, STARTTLS with login, failures."""

from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope, Session

from andon.notify import DeliveryFailed, EmailNotifier, Link, Notification, NotifyError, RetryPolicy

from .receivers import MailHandler, PasswordCheck, free_port, self_signed, smtp_controller

PASSWORD = "smtp-pa55word-do-not-log"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, timeout=5.0)


def note(**overrides: object) -> Notification:
    fields: dict[str, object] = {
        "title": "GDPR clock: 24 hours left",
        "severity": "sev1",
        "text": "The ICO notification is due at 10:00 UTC.\n\nOwner: <Dana Price> & legal.",
        "incident_id": "INC-0042",
        "links": (Link(url="https://andon.example/incidents/INC-0042?tab=clocks&x=1", label="Clocks"),),
    }
    fields.update(overrides)
    return Notification(**fields)  # type: ignore[arg-type]


@pytest.fixture
def plain() -> Iterator[tuple[MailHandler, int]]:
    handler = MailHandler()
    controller = smtp_controller(handler)
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def test_plain_smtp_delivers_text_and_html_parts(plain: tuple[MailHandler, int], sleeps: list[float]) -> None:
    handler, port = plain
    channel = EmailNotifier(
        name="oncall-mail",
        host="127.0.0.1",
        port=port,
        tls="none",
        sender="andon@acme.example",
        recipients=["dpo@acme.example", "legal@acme.example"],
        policy=FAST,
        sleep=sleeps.append,
    )
    notification = note()
    delivery = channel.send(notification)
    assert (delivery.attempts, delivery.status) == (1, 250)
    [mail] = handler.messages
    assert mail.sender == "andon@acme.example"
    assert mail.recipients == ["dpo@acme.example", "legal@acme.example"]
    assert not mail.tls
    message = email.message_from_bytes(mail.data, policy=email.policy.default)
    assert message["Subject"] == "[sev1] GDPR clock: 24 hours left (INC-0042)"
    assert message["X-Andon-Incident"] == "INC-0042"
    assert message["X-Andon-Dedup-Key"] == "INC-0042"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert "Owner: <Dana Price> & legal." in text
    assert "Clocks: https://andon.example/incidents/INC-0042?tab=clocks&x=1" in text
    assert "<p>Owner: &lt;Dana Price&gt; &amp; legal.</p>" in html
    assert '<a href="https://andon.example/incidents/INC-0042?tab=clocks&amp;x=1">Clocks</a>' in html


def test_starttls_and_login_with_the_password_kept_out_of_logs(
    tmp_path: Path, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    handler = MailHandler()
    controller = smtp_controller(
        handler,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=PasswordCheck("andon", PASSWORD),
        auth_require_tls=True,
    )
    try:
        good = EmailNotifier(
            name="mail",
            host="127.0.0.1",
            port=controller.port,
            tls="starttls",
            username="andon",
            password=PASSWORD,
            ssl_context=client_tls,
            sender="andon@acme.example",
            recipients=["dpo@acme.example"],
            policy=FAST,
            sleep=sleeps.append,
        )
        good.send(note())
        [mail] = handler.messages
        assert mail.tls and mail.login == "andon"

        bad = EmailNotifier(
            name="mail",
            host="127.0.0.1",
            port=controller.port,
            tls="starttls",
            username="andon",
            password="wrong-" + PASSWORD,
            ssl_context=client_tls,
            sender="andon@acme.example",
            recipients=["dpo@acme.example"],
            policy=FAST,
            sleep=sleeps.append,
        )
        with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryFailed) as caught:
            bad.send(note())
        assert caught.value.attempts == 1 and caught.value.status == 535  # permanent: not retried
        for text in (str(caught.value), caplog.text, repr(bad)):
            assert PASSWORD not in text
    finally:
        controller.stop()


class FlakyHandler(MailHandler):
    """Answers 451 (try again later) to the first ``failures`` messages, then accepts."""

    def __init__(self, failures: int, code: str = "451 4.3.0 mailbox busy, try later") -> None:
        super().__init__()
        self.failures = failures
        self.code = code

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.failures:
            self.failures -= 1
            return self.code
        return await super().handle_DATA(server, session, envelope)


def test_temporary_4xx_is_retried_and_5xx_is_permanent(sleeps: list[float]) -> None:
    flaky = FlakyHandler(failures=2)
    controller = smtp_controller(flaky)
    try:
        channel = EmailNotifier(
            name="mail",
            host="127.0.0.1",
            port=controller.port,
            tls="none",
            sender="andon@acme.example",
            recipients=["dpo@acme.example"],
            policy=FAST,
            sleep=sleeps.append,
        )
        assert channel.send(note()).attempts == 3
        assert len(flaky.messages) == 1 and len(sleeps) == 2
        flaky.failures, flaky.code = 1, "554 5.7.1 rejected as spam"
        with pytest.raises(DeliveryFailed, match=r"SMTP 554 5\.7\.1 rejected as spam") as caught:
            channel.send(note())
        assert caught.value.attempts == 1
    finally:
        controller.stop()


def test_unreachable_server_is_retried_then_reported(sleeps: list[float]) -> None:
    channel = EmailNotifier(
        name="mail",
        host="127.0.0.1",
        port=free_port(),
        tls="none",
        sender="andon@acme.example",
        recipients=["dpo@acme.example"],
        policy=FAST,
        sleep=sleeps.append,
    )
    with pytest.raises(DeliveryFailed, match="ConnectionRefusedError") as caught:
        channel.send(note())
    assert caught.value.attempts == 3 and len(sleeps) == 2


def test_configuration_mistakes_are_named() -> None:
    with pytest.raises(NotifyError, match="no recipients"):
        EmailNotifier(name="m", host="127.0.0.1", sender="a@b.example", recipients=[])
    with pytest.raises(NotifyError, match="both username and password"):
        EmailNotifier(
            name="m", host="127.0.0.1", sender="a@b.example", recipients=["c@d.example"], username="u"
        )
