"""Telling people: the page when an incident opens, and clock escalations as deadlines run down.

Each escalation step is sent once per incident (its notification dedup key is claimed in the store
first, so replicas do not send it twice); when several steps fell due at once, only the latest — the
one naming everyone — is sent and the earlier ones are recorded as superseded. Channels come from
configuration (``channels:`` of ``$ANDON_NOTIFY_CONFIG``, default ``$ANDON_DATA_DIR/notify.yaml``),
with secrets only from environment variables (see docs/notifications.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection

from andon.errors import ConfigError
from andon.incidents.acts import clocks
from andon.incidents.escalation import due_escalations, escalation_notification, routes_from_runbook
from andon.incidents.records import Incident, pinned_runbook
from andon.notify import (
    DeadLetters,
    Dispatcher,
    DispatchReport,
    Notification,
    NotifyError,
    channels_from_config,
)
from andon.store.tables import incident_escalations


@dataclass(frozen=True, slots=True)
class Claimed:
    incident: int
    notification: Notification
    contacts: tuple[str, ...]


def notify_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("ANDON_NOTIFY_CONFIG"):
        return Path(env["ANDON_NOTIFY_CONFIG"])
    from andon.store import data_dir

    return data_dir() / "notify.yaml"


def dispatcher_from_config(
    path: Path | None = None, *, env: Mapping[str, str] | None = None
) -> Dispatcher | None:
    """The dispatcher configured in ``path`` (default ``notify_config_path()``); None when no file exists."""
    env = os.environ if env is None else env
    path = path or notify_config_path(env)
    if not path.exists():
        return None
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the notification configuration {path}: {exc}") from None
    channels = loaded.get("channels") if isinstance(loaded, dict) else None
    if not isinstance(channels, dict):
        raise ConfigError(f"{path}: expected a 'channels:' mapping of channel name to settings")
    try:
        return Dispatcher(channels_from_config(channels, env=env), dead_letters=DeadLetters.default())
    except NotifyError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _claim(
    conn: Connection, incident: Incident, key: str, clock: str, contacts: tuple[str, ...], now: datetime
) -> bool:
    try:
        with conn.begin_nested():
            conn.execute(
                incident_escalations.insert().values(
                    incident=incident.number,
                    dedup_key=key,
                    clock=clock,
                    contacts=list(contacts),
                    claimed_at=now,
                )
            )
    except sa.exc.IntegrityError:
        return False
    return True


def _claimed(conn: Connection, number: int) -> set[str]:
    t = incident_escalations.c
    return set(conn.execute(sa.select(t.dedup_key).where(t.incident == number)).scalars())


def claim_due(conn: Connection, incident: Incident, *, now: datetime) -> list[Claimed]:
    """The escalation notifications due now and not sent before, claimed for sending."""
    runbook = pinned_runbook(conn, incident)
    if runbook is None:
        return []
    routes = routes_from_runbook(runbook)
    done = _claimed(conn, incident.number)
    found: list[Claimed] = []
    for clock in clocks(conn, incident):
        route = routes.get(clock.regime)
        if route is None:
            continue
        due = due_escalations(clock, route, now=now)
        fresh = [s for s in due if f"{incident.id}:{s.dedup_key}" not in done]
        if not fresh:
            continue
        latest = fresh[-1]
        for step in fresh[:-1]:  # superseded by the latest, which names everyone they would have
            _claim(conn, incident, f"{incident.id}:{step.dedup_key}", clock.key, step.contacts, now)
        note = escalation_notification(
            clock, latest, now=now, severity=incident.severity, incident_id=incident.id
        )
        if _claim(conn, incident, note.key, clock.key, latest.contacts, now):
            found.append(Claimed(incident.number, note, latest.contacts))
    return found


def record_delivery(conn: Connection, claimed: Claimed, report: DispatchReport | None) -> None:
    t = incident_escalations.c
    summary: dict[str, Any] = (
        {"channels": 0, "note": "no notification channels configured"}
        if report is None
        else {
            "channels": len(report.outcomes),
            "failed": [{"channel": o.channel, "reason": o.reason} for o in report.failed],
        }
    )
    conn.execute(
        incident_escalations.update()
        .where(t.incident == claimed.incident, t.dedup_key == claimed.notification.key)
        .values(delivered=None if report is None else report.delivered, report=summary)
    )


def escalations(conn: Connection, number: int) -> list[dict[str, Any]]:
    t = incident_escalations.c
    rows = conn.execute(
        sa.select(incident_escalations).where(t.incident == number).order_by(t.claimed_at, t.dedup_key)
    ).all()
    return [
        {
            "dedup_key": row.dedup_key,
            "clock": row.clock,
            "contacts": row.contacts,
            "claimed_at": row.claimed_at.isoformat(),
            "delivered": row.delivered,
            "report": row.report,
        }
        for row in rows
    ]


def opening_notification(conn: Connection, incident: Incident) -> tuple[Notification, tuple[str, ...]]:
    """The page sent when an incident opens, to the severity's ``page`` contacts and the owner."""
    runbook = pinned_runbook(conn, incident)
    paged: list[str] = []
    if runbook is not None:
        try:
            paged = list(runbook.severity(incident.severity).page)
        except KeyError:
            paged = []
    owner = incident.owners.get("incident")
    contacts = tuple(dict.fromkeys([*paged, *([owner] if isinstance(owner, str) else [])]))
    text = "\n".join(
        [
            incident.summary,
            f"Class: {incident.incident_class}; workflow: {incident.workflow or 'none'}; "
            f"state: {incident.state}.",
            f"Owner: {owner or 'unassigned'}. For: {', '.join(contacts) or 'nobody named'}",
        ]
    )
    note = Notification(
        title=f"{incident.id} {incident.title}",
        severity=incident.severity,
        text=text,
        incident_id=incident.id,
        dedup_key=f"{incident.id}:opened",
        created_at=incident.opened_at,
    )
    return note, contacts


def claim_opening(conn: Connection, incident: Incident, *, now: datetime) -> Claimed | None:
    note, contacts = opening_notification(conn, incident)
    if not _claim(conn, incident, note.key, "opened", contacts, now):
        return None
    return Claimed(incident.number, note, contacts)
