"""Regulatory clocks of an incident: the attributed acts that start them, and the clocks they start.

The regimes that apply are the pinned runbook's ``regimes`` whose ``applies_to`` meets the data
classes involved (the workflow's, as changed by responders). A trigger ("we became aware", "classified
as major", "determined material"), a finding or a filing is an explicit act with who, when and a
statement; it is stored and is an ``incident_change`` event. Clocks are computed from the acts by
``andon.incidents.clocks.compute_clocks``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.incidents.clocks import Clock, ClockError, Filing, Finding, Trigger, compute_clocks, require_utc
from andon.incidents.records import Incident, IncidentError, pinned_runbook, record_change
from andon.incidents.regimes import CONDITIONS, REGIMES, TRIGGERS
from andon.store.tables import incident_acts

ActKind = Literal["trigger", "finding", "filing"]
ACT_KINDS: tuple[ActKind, ...] = ("trigger", "finding", "filing")


@dataclass(frozen=True, slots=True)
class Act:
    id: int
    act: str
    name: str
    regime: str | None
    who: str
    at: datetime
    statement: str
    reference: str
    disposition: str
    recorded_at: datetime
    recorded_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "act": self.act,
            "name": self.name,
            "regime": self.regime,
            "who": self.who,
            "at": self.at.isoformat(),
            "statement": self.statement,
            "reference": self.reference,
            "disposition": self.disposition,
            "recorded_at": self.recorded_at.isoformat(),
            "recorded_by": self.recorded_by,
        }


def applicable_regimes(conn: Connection, incident: Incident) -> list[str]:
    """Regime ids of the pinned runbook that apply to the data classes involved."""
    runbook = pinned_runbook(conn, incident)
    if runbook is None:
        return []
    involved = set(incident.data_classes)
    return [entry.regime for entry in runbook.regimes if involved & set(entry.applies_to)]


def _check(kind: str, name: str, regime: str | None) -> None:
    if kind not in ACT_KINDS:
        raise IncidentError(f"act '{kind}' is unknown; use one of: {', '.join(ACT_KINDS)}")
    if regime is not None and regime not in REGIMES:
        raise IncidentError(f"no regime '{regime}'; known regimes: {', '.join(REGIMES)}")
    if kind == "trigger" and name not in TRIGGERS:
        raise IncidentError(f"trigger '{name}' is unknown; use one of: {', '.join(TRIGGERS)}")
    if kind == "finding" and name not in CONDITIONS:
        raise IncidentError(f"finding '{name}' is unknown; use one of: {', '.join(CONDITIONS)}")
    if kind == "filing":
        if regime is None:
            raise IncidentError("a filing names its regime (e.g. uk_gdpr) and obligation")
        try:
            REGIMES[regime].obligation(name)
        except KeyError as exc:
            raise IncidentError(str(exc.args[0])) from None


def record_act(
    conn: Connection,
    incident: Incident,
    *,
    act: str,
    name: str,
    who: str,
    at: datetime,
    statement: str,
    actor: str,
    now: datetime,
    regime: str | None = None,
    reference: str = "",
    disposition: str = "filed",
) -> Act:
    """Store one attributed act (e.g. the trigger ``awareness``) and put it on the incident's timeline."""
    _check(act, name, regime)
    if not who.strip() or not statement.strip():
        raise IncidentError(f"the {act} '{name}' needs who took it and a statement of it")
    if disposition not in ("filed", "not_required"):
        raise IncidentError("a filing's disposition is 'filed' or 'not_required'")
    try:
        at = require_utc(at, f"{act} '{name}' time")
    except ClockError as exc:
        raise IncidentError(str(exc)) from None
    if at > now:
        raise IncidentError(f"the {act} '{name}' is dated {at.isoformat()}, in the future")
    number = conn.execute(
        incident_acts.insert()
        .values(
            incident=incident.number,
            act=act,
            name=name,
            regime=regime,
            who=who,
            at=at,
            statement=statement,
            reference=reference,
            disposition=disposition,
            recorded_at=now,
            recorded_by=actor,
        )
        .returning(incident_acts.c.id)
    ).scalar_one()
    record_change(
        conn,
        incident,
        field="clock_act",
        before=None,
        after={
            "act": act,
            "name": name,
            "regime": regime,
            "who": who,
            "at": at.isoformat(),
            "statement": statement,
            "reference": reference,
            "disposition": disposition,
        },
        actor=actor,
        now=now,
    )
    return next(a for a in acts(conn, incident.number) if a.id == number)


def acts(conn: Connection, number: int) -> list[Act]:
    t = incident_acts.c
    rows = conn.execute(sa.select(incident_acts).where(t.incident == number).order_by(t.at, t.id)).all()
    return [Act(**{name: getattr(row, name) for name in Act.__dataclass_fields__}) for row in rows]


def clocks(conn: Connection, incident: Incident) -> list[Clock]:
    """Every clock the incident's recorded acts have started under the regimes that apply."""
    recorded = acts(conn, incident.number)
    triggers = [
        Trigger(a.name, who=a.who, when=a.at, statement=a.statement, regime=a.regime)
        for a in recorded
        if a.act == "trigger"
    ]
    findings = [
        Finding(a.name, who=a.who, when=a.at, statement=a.statement, regime=a.regime)
        for a in recorded
        if a.act == "finding"
    ]
    filings = [
        Filing(
            regime=a.regime or "",
            obligation=a.name,
            who=a.who,
            when=a.at,
            statement=a.statement,
            reference=a.reference,
            disposition="filed" if a.disposition == "filed" else "not_required",
        )
        for a in recorded
        if a.act == "filing"
    ]
    regimes = applicable_regimes(conn, incident)
    filings = [f for f in filings if f.regime in regimes]
    return compute_clocks(regimes, triggers=triggers, findings=findings, filings=filings)
