"""Notifications: a generic signed webhook, Slack, PagerDuty Events API v2 and e-mail over SMTP.

Standard library only. ``Dispatcher`` fans one ``Notification`` out to the configured channels and
keeps what could not be delivered in ``DeadLetters`` for redelivery. See docs/notifications.md.
"""

from andon.notify.base import (
    Delivery,
    DeliveryFailed,
    Link,
    Notification,
    Notifier,
    NotifyError,
    Secret,
    mask_url,
)
from andon.notify.config import build_channel, channels_from_config
from andon.notify.deadletter import DeadLetter, DeadLetters, Redelivery
from andon.notify.dispatch import Dispatcher, DispatchReport, Outcome
from andon.notify.http import RetryPolicy
from andon.notify.mail import EmailNotifier
from andon.notify.pagerduty import PagerDutyNotifier
from andon.notify.signing import SIGNATURE_HEADER, SignatureInvalid, sign, verify_signature
from andon.notify.slack import SlackNotifier
from andon.notify.webhook import WebhookNotifier

__all__ = [
    "SIGNATURE_HEADER",
    "DeadLetter",
    "DeadLetters",
    "Delivery",
    "DeliveryFailed",
    "DispatchReport",
    "Dispatcher",
    "EmailNotifier",
    "Link",
    "Notification",
    "Notifier",
    "NotifyError",
    "Outcome",
    "PagerDutyNotifier",
    "Redelivery",
    "RetryPolicy",
    "Secret",
    "SignatureInvalid",
    "SlackNotifier",
    "WebhookNotifier",
    "build_channel",
    "channels_from_config",
    "mask_url",
    "sign",
    "verify_signature",
]
