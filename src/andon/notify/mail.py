"""E-mail over SMTP (``smtplib``): one message with a plain-text and an HTML part.

``tls`` is ``starttls`` (upgrade a plain connection, port 587), ``ssl`` (TLS from the first byte, port
465) or ``none`` (a relay on a trusted network). The password is a Secret and is sent only after TLS
unless ``tls="none"`` is chosen explicitly. Temporary failures (4xx replies, dropped or refused
connections, timeouts) are retried with backoff; 5xx replies are permanent.
"""

from __future__ import annotations

import html
import logging
import random
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal

from andon.notify.base import Delivery, DeliveryFailed, Notification, NotifyError, Secret, as_secret, scrub
from andon.notify.http import RetryPolicy

log = logging.getLogger("andon.notify")

Tls = Literal["starttls", "ssl", "none"]
MAIL_POLICY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=30.0, timeout=15.0)


def subject(notification: Notification) -> str:
    n = notification
    mark = "" if n.state == "open" else f"[{n.state}] "
    return f"{mark}[{n.severity}] {n.title}" + (f" ({n.incident_id})" if n.incident_id else "")


def build_message(notification: Notification, *, sender: str, recipients: Sequence[str]) -> EmailMessage:
    """The MIME message: text/plain first, text/html as the alternative, Andon headers for filtering."""
    n = notification
    message = EmailMessage()
    message["Subject"] = subject(n)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(n.created_at)
    message["Message-ID"] = make_msgid(idstring=n.id[:16], domain="andon.invalid")
    message["X-Andon-Incident"] = n.incident_id or ""
    message["X-Andon-Dedup-Key"] = n.key
    message["X-Andon-Severity"] = n.severity
    lines = [n.title, "", n.text, "", f"Severity: {n.severity}", f"State: {n.state}"]
    if n.incident_id:
        lines.append(f"Incident: {n.incident_id}")
    lines += [f"{link.label}: {link.url}" for link in n.links]
    message.set_content("\n".join(lines) + "\n")
    links = "".join(
        f'<li><a href="{html.escape(link.url, quote=True)}">{html.escape(link.label)}</a></li>'
        for link in n.links
    )
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in n.text.split("\n\n") if p.strip())
    facts = f"Severity <b>{html.escape(n.severity)}</b> · state <b>{n.state}</b>"
    if n.incident_id:
        facts += f" · incident <b>{html.escape(n.incident_id)}</b>"
    body = (
        f"<!doctype html><html><body><h2>{html.escape(n.title)}</h2><p>{facts}</p>{paragraphs}"
        + (f"<ul>{links}</ul>" if links else "")
        + "</body></html>"
    )
    message.add_alternative(body, subtype="html")
    return message


class EmailNotifier:
    """Send each notification as an e-mail to fixed recipients through one SMTP server."""

    kind = "email"

    def __init__(
        self,
        *,
        name: str,
        host: str,
        sender: str,
        recipients: Sequence[str],
        port: int | None = None,
        tls: Tls = "starttls",
        username: str | None = None,
        password: str | Secret | None = None,
        ssl_context: ssl.SSLContext | None = None,
        policy: RetryPolicy = MAIL_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not recipients:
            raise NotifyError(f"e-mail channel '{name}' has no recipients")
        if tls not in ("starttls", "ssl", "none"):
            raise NotifyError(f"e-mail channel '{name}': tls must be starttls, ssl or none, not {tls!r}")
        if (username is None) != (password is None):
            raise NotifyError(f"e-mail channel '{name}': give both username and password, or neither")
        self._name = name
        self._host = host
        self._port = port if port is not None else {"starttls": 587, "ssl": 465, "none": 25}[tls]
        self._sender = sender
        self._recipients = tuple(recipients)
        self._tls = tls
        self._username = username
        self._password = None if password is None else as_secret(password)
        self._context = ssl_context or ssl.create_default_context()
        self._policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()

    @property
    def name(self) -> str:
        return self._name

    @property
    def target(self) -> str:
        return f"smtp://{self._host}:{self._port}"

    def __repr__(self) -> str:
        return f"EmailNotifier(name={self._name!r}, target={self.target!r})"

    def _connect(self) -> smtplib.SMTP:
        timeout = self._policy.timeout
        if self._tls == "ssl":
            return smtplib.SMTP_SSL(self._host, self._port, timeout=timeout, context=self._context)
        client = smtplib.SMTP(self._host, self._port, timeout=timeout)
        if self._tls == "starttls":
            client.starttls(context=self._context)
        return client

    def _deliver(self, message: EmailMessage) -> None:
        client = self._connect()
        try:
            if self._username is not None and self._password is not None:
                client.login(self._username, self._password.reveal())
            client.send_message(message, from_addr=self._sender, to_addrs=list(self._recipients))
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def send(self, notification: Notification) -> Delivery:
        message = build_message(notification, sender=self._sender, recipients=self._recipients)
        reason = "no attempt made"
        for attempt in range(1, self._policy.attempts + 1):
            try:
                self._deliver(message)
                return Delivery(channel=self._name, attempts=attempt, status=250)
            except smtplib.SMTPRecipientsRefused as exc:
                refused = ", ".join(f"{addr} ({code})" for addr, (code, _) in exc.recipients.items())
                raise DeliveryFailed(
                    channel=self._name, reason=f"recipients refused: {refused}", attempts=attempt
                ) from None
            except smtplib.SMTPResponseException as exc:
                text = (
                    exc.smtp_error.decode("utf-8", "replace")
                    if isinstance(exc.smtp_error, bytes)
                    else str(exc.smtp_error)
                )
                reason = scrub(f"SMTP {exc.smtp_code} {text}".strip(), (self._password,))
                if not 400 <= exc.smtp_code < 500:  # 5xx: the server will say the same again
                    raise DeliveryFailed(
                        channel=self._name, reason=reason, attempts=attempt, status=exc.smtp_code
                    ) from None
            except (smtplib.SMTPException, OSError) as exc:
                reason = scrub(f"{type(exc).__name__}: {exc}", (self._password,))
            if attempt < self._policy.attempts:
                wait = self._policy.delay(attempt, self._rng)
                log.warning(
                    "notify %s to %s failed (%s); retry %d in %.2fs",
                    self._name,
                    self.target,
                    reason,
                    attempt,
                    wait,
                )
                self._sleep(wait)
        raise DeliveryFailed(channel=self._name, reason=reason, attempts=self._policy.attempts)
