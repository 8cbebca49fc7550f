"""Affected records and customers: what the workflow changed in the incident window or under a bad version.

From the ledger: every ``decision`` of the workflow that changes things (write, send, delete, spend)
since the incident's window start, or made under one of its suspect versions (the ``versions`` each
decision records), with its ``action_outcome``. The control plane's undo record adds the before and
after state. The record touched is named by the arguments that identify one (``account_id``,
``ticket_id``, ``id`` …); recipients are the arguments the workflow's detectors treat as recipients
(``to``, ``email``, ``recipients`` …). ``to_csv`` writes what the support team needs.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.incidents.records import Incident, pinned_runbook
from andon.ledger.log import read_events
from andon.runbook.detectors import WrongRecipient
from andon.runbook.vocabulary import CHANGING_EFFECTS
from andon.store.tables import control_actions

CSV_COLUMNS = (
    "action_id",
    "time",
    "run_id",
    "tool",
    "effect",
    "records",
    "recipients",
    "status",
    "before",
    "after",
    "versions",
    "why",
    "ledger_index",
)


@dataclass(frozen=True, slots=True)
class Affected:
    """One executed action of the workflow that the incident may have made wrong."""

    action_id: str
    time: datetime
    run_id: str | None
    tool: str
    effect: str
    args: dict[str, Any]
    records: tuple[str, ...]
    recipients: tuple[str, ...]
    status: str  # succeeded, rolled_back, rollback_conflict … (the control plane's current status)
    before: Any
    after: Any
    versions: dict[str, str]
    why: str  # "in window" | "suspect version" | both
    ledger_index: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "time": self.time.isoformat(),
            "run_id": self.run_id,
            "tool": self.tool,
            "effect": self.effect,
            "args": self.args,
            "records": list(self.records),
            "recipients": list(self.recipients),
            "status": self.status,
            "before": self.before,
            "after": self.after,
            "versions": self.versions,
            "why": self.why,
            "ledger_index": self.ledger_index,
        }


def record_names(args: dict[str, Any]) -> tuple[str, ...]:
    """The arguments that identify a record: ``id`` and every ``*_id`` (``account_id=acct-7``)."""
    found = []
    for key, value in sorted(args.items()):
        if (key == "id" or key.endswith("_id")) and isinstance(value, str | int) and value != "":
            found.append(f"{key}={value}")
    return tuple(found)


def recipients_of(args: dict[str, Any], fields: list[str]) -> tuple[str, ...]:
    found: list[str] = []
    for name in fields:
        value = args.get(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.strip():
                found.append(item.strip().lower())
    return tuple(dict.fromkeys(found))


def _recipient_fields(conn: Connection, incident: Incident) -> list[str]:
    runbook = pinned_runbook(conn, incident)
    if runbook is not None and incident.workflow is not None:
        try:
            detectors = runbook.workflow(incident.workflow).detectors
        except KeyError:
            detectors = None
        if detectors is not None:
            return list(detectors.wrong_recipient.recipient_fields)
    return list(WrongRecipient().recipient_fields)


def affected(conn: Connection, incident: Incident, *, until: datetime | None = None) -> list[Affected]:
    """Executed changing actions in the window (or under a suspect version), oldest first."""
    if incident.workflow is None:
        return []
    suspects = set(incident.suspect_versions)
    since = None if suspects else incident.window_start
    events = read_events(
        conn, workflow=incident.workflow, kinds=("decision", "action_outcome"), since=since, until=until
    )
    outcomes = {
        e.payload.get("action_id"): e for e in events if e.kind == "action_outcome" and e.payload.get("ok")
    }
    chosen: list[tuple[Any, str]] = []
    for event in events:
        payload = event.payload
        if event.kind != "decision" or payload.get("effect") not in CHANGING_EFFECTS:
            continue
        action_id = payload.get("action_id")
        if not isinstance(action_id, str) or action_id not in outcomes:
            continue  # not executed: denied, held, simulated, or failed
        recorded = payload.get("versions")
        versions: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
        reasons = []
        if event.time >= incident.window_start:
            reasons.append("in window")
        if suspects & set(map(str, versions.values())):
            reasons.append("suspect version")
        if reasons:
            chosen.append((event, " and ".join(reasons)))
    ids = [e.payload["action_id"] for e, _ in chosen]
    t = control_actions.c
    rows = (
        {
            row.id: row
            for row in conn.execute(
                sa.select(t.id, t.status, t.before, t.after, t.args).where(t.id.in_(ids))
            ).all()
        }
        if ids
        else {}
    )
    fields = _recipient_fields(conn, incident)
    found: list[Affected] = []
    for event, why in chosen:
        payload = event.payload
        row = rows.get(payload["action_id"])
        # The control plane's row holds the arguments as the tool got them (the ledger's may be redacted).
        args = row.args if row is not None and isinstance(row.args, dict) else payload.get("args") or {}
        found.append(
            Affected(
                action_id=payload["action_id"],
                time=event.time,
                run_id=event.run_id,
                tool=str(payload.get("tool")),
                effect=str(payload.get("effect")),
                args=args,
                records=record_names(args),
                recipients=recipients_of(args, fields),
                status=row.status if row is not None else "succeeded",
                before=row.before if row is not None else None,
                after=row.after if row is not None else None,
                versions=payload.get("versions") or {},
                why=why,
                ledger_index=event.index,
            )
        )
    return found


def customers(rows: list[Affected]) -> list[dict[str, Any]]:
    """Each recipient with how many actions reached them and by which tools, in first-seen order."""
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        for recipient in row.recipients:
            entry = seen.setdefault(recipient, {"recipient": recipient, "actions": 0, "tools": []})
            entry["actions"] += 1
            if row.tool not in entry["tools"]:
                entry["tools"].append(row.tool)
    return list(seen.values())


def to_csv(rows: list[Affected]) -> str:
    """One line per action; lists joined with ``;``, states as compact JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.action_id,
                row.time.isoformat(),
                row.run_id or "",
                row.tool,
                row.effect,
                ";".join(row.records),
                ";".join(row.recipients),
                row.status,
                _json(row.before),
                _json(row.after),
                _json(row.versions),
                row.why,
                row.ledger_index,
            ]
        )
    return out.getvalue()


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
