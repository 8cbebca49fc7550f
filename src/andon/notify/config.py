"""Build channels from configuration data, with every secret taken from an environment variable.

    channels:
      ops-hook:    {kind: webhook, url_env: ANDON_OPS_WEBHOOK_URL, secret_env: ANDON_OPS_WEBHOOK_SECRET}
      incidents:   {kind: slack, webhook_url_env: ANDON_SLACK_WEBHOOK_URL}
      ai-ops:      {kind: pagerduty, routing_key_env: ANDON_PD_ROUTING_KEY}
      oncall-mail: {kind: email, host: smtp.acme.example, sender: andon@acme.example,
                    recipients: [oncall@acme.example], username: andon, password_env: ANDON_SMTP_PASSWORD}

A secret written inline (``url:``, ``routing_key:`` …) is refused: configuration files end up in
repositories and tickets, environment variables in a secret store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from andon.notify.base import Notifier, NotifyError, Secret
from andon.notify.mail import EmailNotifier
from andon.notify.pagerduty import DEFAULT_BASE_URL, PagerDutyNotifier
from andon.notify.slack import SlackNotifier
from andon.notify.webhook import WebhookNotifier

# kind -> (secret fields read from *_env, plain fields allowed, plain fields required)
_FIELDS: dict[str, tuple[tuple[str, ...], frozenset[str], frozenset[str]]] = {
    "webhook": (("url", "secret"), frozenset(), frozenset()),
    "slack": (("webhook_url",), frozenset(), frozenset()),
    "pagerduty": (
        ("routing_key",),
        frozenset({"base_url", "severity_map", "default_severity"}),
        frozenset(),
    ),
    "email": (
        ("password",),
        frozenset({"host", "port", "tls", "sender", "recipients", "username"}),
        frozenset({"host", "sender", "recipients"}),
    ),
}
_OPTIONAL_SECRETS = frozenset({"password"})


def _secrets(name: str, kind: str, entry: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Secret]:
    found: dict[str, Secret] = {}
    for field in _FIELDS[kind][0]:
        if field in entry:
            raise NotifyError(
                f"notify channel '{name}': '{field}' is a secret; put it in an environment variable "
                f"and write '{field}_env: VARIABLE_NAME' instead"
            )
        variable = entry.get(f"{field}_env")
        if variable is None:
            if field in _OPTIONAL_SECRETS:
                continue
            raise NotifyError(f"notify channel '{name}' ({kind}) needs '{field}_env'")
        value = env.get(str(variable))
        if not value:
            raise NotifyError(f"notify channel '{name}': environment variable {variable} is not set")
        found[field] = Secret(value)
    return found


def build_channel(name: str, entry: Mapping[str, Any], *, env: Mapping[str, str]) -> Notifier:
    """One channel from its configuration entry; NotifyError names the channel and the field."""
    kind = entry.get("kind")
    if kind not in _FIELDS:
        raise NotifyError(f"notify channel '{name}': kind must be one of {', '.join(_FIELDS)}, not {kind!r}")
    secret_fields, plain, required = _FIELDS[kind]
    allowed = {"kind", *plain, *secret_fields, *(f"{f}_env" for f in secret_fields)}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise NotifyError(f"notify channel '{name}': unknown field(s) {', '.join(unknown)} for kind {kind}")
    missing = sorted(required - set(entry))
    if missing:
        raise NotifyError(f"notify channel '{name}' ({kind}) needs {', '.join(missing)}")
    secrets = _secrets(name, kind, entry, env)
    if kind == "webhook":
        return WebhookNotifier(name=name, url=secrets["url"], secret=secrets["secret"])
    if kind == "slack":
        return SlackNotifier(name=name, webhook_url=secrets["webhook_url"])
    if kind == "pagerduty":
        return PagerDutyNotifier(
            name=name,
            routing_key=secrets["routing_key"],
            base_url=str(entry.get("base_url", DEFAULT_BASE_URL)),
            severity_map=dict(entry.get("severity_map", {})) or PagerDutyNotifier.default_map(),
            default_severity=str(entry.get("default_severity", "error")),
        )
    return EmailNotifier(
        name=name,
        host=str(entry["host"]),
        port=int(entry["port"]) if "port" in entry else None,
        tls=entry.get("tls", "starttls"),
        sender=str(entry["sender"]),
        recipients=[str(r) for r in entry["recipients"]],
        username=entry.get("username"),
        password=secrets.get("password"),
    )


def channels_from_config(
    config: Mapping[str, Mapping[str, Any]], *, env: Mapping[str, str]
) -> list[Notifier]:
    """Every channel of a ``{name: entry}`` mapping, in order."""
    return [build_channel(name, entry, env=env) for name, entry in config.items()]
