"""Regulatory regimes as data: each obligation, who receives it, what starts it, and how long it runs.

One table (``REGIMES``), no class per regime. An obligation starts when its trigger act is recorded and,
if it has a ``condition``, once a finding says the condition holds. Its deadline is the earliest of its
periods whose triggers (and conditions) are recorded — which is how DORA's "4 hours from classification,
but no later than 24 hours from awareness" and the EU AI Act's 15 / 2 / 10 days are written here.
An obligation with no period ("without undue delay") has no fixed deadline.

Triggers that start with ``filed:`` are the filing of another obligation of the same regime: NIS2's
final report runs from the submission of the incident notification, not from awareness.

Counting rules (see docs/clocks.md):

- ``hours``: exact elapsed time from the trigger instant, in UTC (no daylight-saving effect).
- ``calendar_days``: ``exact`` adds N × 24 h to the trigger instant (the conservative reading when the
  text says only "N days after"); ``end_of_day`` ends at the end of the N-th day after the local day of
  the trigger, in the regime's zone (Singapore's "3 calendar days after the day ... of that assessment").
- ``business_days``: the N-th business day after the local day of the trigger in the regime's
  business calendar, ending at the regime's ``day_end`` (17:30 Eastern for EDGAR filings).
- ``months``: the same day N months later, clamped to the last day of a shorter month (31 January + 1
  month = 28 February, or 29 in a leap year), as Regulation (EEC, Euratom) 1182/71 Art. 3(2)(c) counts
  months; ``exact`` keeps the trigger's time of day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Literal

Unit = Literal["hours", "calendar_days", "business_days", "months"]
Ends = Literal["exact", "end_of_day"]

# The named acts that start clocks; each is recorded as an explicit, attributed Trigger.
TRIGGERS: dict[str, str] = {
    "awareness": "the organisation became aware of the incident or breach",
    "detection": "the incident was noticed or brought to the organisation's notice",
    "discovery": "the breach was discovered (known, or would have been known with reasonable diligence)",
    "classification_major": "the incident was classified as major",
    "materiality_determined": "the incident was determined to be material",
    "assessment_notifiable": "the breach was assessed to be notifiable",
}

# Named findings that make a conditional obligation or period apply.
CONDITIONS: dict[str, str] = {
    "high_risk_to_individuals": "the breach is likely to result in a high risk to people's rights",
    "widespread_or_critical_infrastructure": (
        "a widespread infringement, or a serious and irreversible disruption of critical infrastructure"
    ),
    "death": "the serious incident involved the death of a person",
    "at_least_500_individuals": "the breach involves 500 or more individuals",
    "over_500_in_one_state": "the breach involves more than 500 residents of one State or jurisdiction",
    "significant_harm": "the breach is likely to result in significant harm to affected individuals",
}


@dataclass(frozen=True, slots=True)
class Period:
    """One time limit: ``amount`` ``unit`` from ``trigger`` (the obligation's own when None)."""

    amount: int
    unit: Unit
    trigger: str | None = None
    ends: Ends = "exact"
    condition: str | None = None  # the period applies only when this finding is recorded

    def describe(self, default_trigger: str) -> str:
        words = {"hours": "hours", "calendar_days": "calendar days", "business_days": "business days"}
        unit = words.get(self.unit, "months" if self.amount != 1 else "month")
        if self.amount == 1 and self.unit != "months":
            unit = unit[:-1]
        text = f"{self.amount} {unit} from {self.trigger or default_trigger}"
        return text + (f" if {self.condition}" if self.condition else "")


@dataclass(frozen=True, slots=True)
class Obligation:
    """One thing a regime requires someone to file or send."""

    id: str
    name: str
    recipient: str
    trigger: str
    periods: tuple[Period, ...]
    source: str  # the article or section, cited
    text: str  # the standard in the law's own words (shortened)
    condition: str | None = None


@dataclass(frozen=True, slots=True)
class Regime:
    """A regulatory regime: where it applies, how its days are counted, and its obligations."""

    id: str
    name: str
    jurisdiction: str
    obligations: tuple[Obligation, ...]
    sources: tuple[str, ...]
    zone: str = "UTC"
    calendar: str | None = None  # a name in calendars.CALENDARS, for business days
    day_end: time | None = None  # local time the last day ends; None = midnight
    notes: str = ""

    def obligation(self, obligation_id: str) -> Obligation:
        for item in self.obligations:
            if item.id == obligation_id:
                return item
        known = ", ".join(o.id for o in self.obligations)
        raise KeyError(f"regime '{self.id}' has no obligation '{obligation_id}' (it has: {known})")


def _gdpr(regime_id: str, name: str, jurisdiction: str, authority: str, law: str) -> Regime:
    return Regime(
        id=regime_id,
        name=name,
        jurisdiction=jurisdiction,
        sources=(f"{law} Art. 33", f"{law} Art. 34"),
        obligations=(
            Obligation(
                id="authority_notification",
                name="Personal data breach notification",
                recipient=authority,
                trigger="awareness",
                periods=(Period(72, "hours"),),
                source=f"{law} Art. 33(1)",
                text="without undue delay and, where feasible, not later than 72 hours after having "
                "become aware of it; unless unlikely to result in a risk to people's rights and freedoms",
            ),
            Obligation(
                id="individuals_communication",
                name="Communication to data subjects",
                recipient="affected data subjects",
                trigger="awareness",
                periods=(),
                condition="high_risk_to_individuals",
                source=f"{law} Art. 34(1)",
                text="without undue delay, when the breach is likely to result in a high risk",
            ),
        ),
    )


AI_ACT = "Regulation (EU) 2024/1689 (AI Act)"
NIS2 = "Directive (EU) 2022/2555 (NIS2)"
DORA_RTS = "Commission Delegated Regulation (EU) 2025/301"
HIPAA = "45 CFR"

REGIMES: dict[str, Regime] = {
    r.id: r
    for r in (
        _gdpr("uk_gdpr", "UK GDPR", "United Kingdom", "Information Commissioner's Office (ICO)", "UK GDPR"),
        _gdpr(
            "eu_gdpr",
            "EU GDPR",
            "European Union",
            "lead supervisory authority",
            "Regulation (EU) 2016/679 (GDPR)",
        ),
        Regime(
            id="eu_ai_act",
            name="EU AI Act — serious incidents",
            jurisdiction="European Union",
            sources=(f"{AI_ACT} Art. 73", f"{AI_ACT} Art. 3(49)"),
            obligations=(
                Obligation(
                    id="serious_incident_report",
                    name="Serious incident report",
                    recipient="market surveillance authority of the Member State where it occurred",
                    trigger="awareness",
                    periods=(
                        Period(15, "calendar_days"),
                        Period(2, "calendar_days", condition="widespread_or_critical_infrastructure"),
                        Period(10, "calendar_days", condition="death"),
                    ),
                    source=f"{AI_ACT} Art. 73(2)-(4)",
                    text="immediately after establishing a causal link (or its reasonable likelihood), and "
                    "not later than 15 days after becoming aware; 2 days for a widespread infringement or "
                    "critical-infrastructure disruption (Art. 3(49)(b)); 10 days in the event of a death",
                ),
            ),
            notes="Providers of high-risk AI systems (deployers inform the provider, Art. 26(5)). "
            "Evidence must be kept before altering the system (Art. 73(6)).",
        ),
        Regime(
            id="nis2",
            name="NIS2 — significant incidents",
            jurisdiction="European Union",
            sources=(f"{NIS2} Art. 23(4)",),
            obligations=(
                Obligation(
                    id="early_warning",
                    name="Early warning",
                    recipient="CSIRT or competent authority",
                    trigger="awareness",
                    periods=(Period(24, "hours"),),
                    source=f"{NIS2} Art. 23(4)(a)",
                    text="without undue delay and in any event within 24 hours of becoming aware",
                ),
                Obligation(
                    id="incident_notification",
                    name="Incident notification",
                    recipient="CSIRT or competent authority",
                    trigger="awareness",
                    periods=(Period(72, "hours"),),
                    source=f"{NIS2} Art. 23(4)(b)",
                    text="without undue delay and in any event within 72 hours of becoming aware",
                ),
                Obligation(
                    id="final_report",
                    name="Final report",
                    recipient="CSIRT or competent authority",
                    trigger="filed:incident_notification",
                    periods=(Period(1, "months"),),
                    source=f"{NIS2} Art. 23(4)(d)",
                    text="not later than one month after the submission of the incident notification",
                ),
            ),
            notes="An intermediate report is due only on request (Art. 23(4)(c)); a progress report "
            "replaces the final report while the incident is ongoing (Art. 23(4)(e)).",
        ),
        Regime(
            id="dora",
            name="DORA — major ICT-related incidents",
            jurisdiction="European Union",
            sources=("Regulation (EU) 2022/2554 (DORA) Art. 19(4)", f"{DORA_RTS} Art. 5"),
            obligations=(
                Obligation(
                    id="initial_notification",
                    name="Initial notification",
                    recipient="competent authority",
                    trigger="classification_major",
                    periods=(Period(4, "hours"), Period(24, "hours", trigger="awareness")),
                    source=f"{DORA_RTS} Art. 5(1)(a)",
                    text="within 4 hours from classification as major, but no later than 24 hours from "
                    "becoming aware of the incident",
                ),
                Obligation(
                    id="intermediate_report",
                    name="Intermediate report",
                    recipient="competent authority",
                    trigger="filed:initial_notification",
                    periods=(Period(72, "hours"),),
                    source=f"{DORA_RTS} Art. 5(1)(b)",
                    text="within 72 hours from the submission of the initial notification",
                ),
                Obligation(
                    id="final_report",
                    name="Final report",
                    recipient="competent authority",
                    trigger="filed:intermediate_report",
                    periods=(Period(1, "months"),),
                    source=f"{DORA_RTS} Art. 5(1)(c)",
                    text="no later than one month from the latest updated intermediate report",
                ),
            ),
            notes="The weekend and bank-holiday relief of the RTS is not applied: deadlines shown are "
            "the earliest ones.",
        ),
        Regime(
            id="sec_8k",
            name="SEC Form 8-K Item 1.05 — material cybersecurity incidents",
            jurisdiction="United States",
            sources=(
                "Form 8-K Item 1.05",
                "Form 8-K General Instruction B.1",
                "17 CFR 232.13(a)(2) (Regulation S-T Rule 13)",
                "5 U.S.C. 6103",
            ),
            zone="America/New_York",
            calendar="us_federal",
            day_end=time(17, 30),
            obligations=(
                Obligation(
                    id="form_8k",
                    name="Form 8-K, Item 1.05",
                    recipient="SEC (EDGAR)",
                    trigger="materiality_determined",
                    periods=(Period(4, "business_days", ends="end_of_day"),),
                    source="Form 8-K Item 1.05(a); General Instruction B.1",
                    text="within four business days after the registrant determines the incident is "
                    "material; EDGAR filings after 5:30 p.m. Eastern are filed the next business day",
                ),
            ),
            notes="Delay is possible only on written notice from the US Attorney General (Item 1.05(c)).",
        ),
        Regime(
            id="hipaa",
            name="HIPAA Breach Notification Rule",
            jurisdiction="United States",
            sources=(f"{HIPAA} 164.404", f"{HIPAA} 164.406", f"{HIPAA} 164.408"),
            obligations=(
                Obligation(
                    id="individuals_notice",
                    name="Notice to individuals",
                    recipient="affected individuals",
                    trigger="discovery",
                    periods=(Period(60, "calendar_days"),),
                    source=f"{HIPAA} 164.404(b)",
                    text="without unreasonable delay and in no case later than 60 calendar days after "
                    "discovery of a breach",
                ),
                Obligation(
                    id="media_notice",
                    name="Notice to prominent media outlets",
                    recipient="prominent media outlets serving the State",
                    trigger="discovery",
                    condition="over_500_in_one_state",
                    periods=(Period(60, "calendar_days"),),
                    source=f"{HIPAA} 164.406(b)",
                    text="not later than 60 calendar days after discovery, for more than 500 residents",
                ),
                Obligation(
                    id="hhs_notice",
                    name="Notice to the Secretary of HHS",
                    recipient="US Department of Health and Human Services",
                    trigger="discovery",
                    condition="at_least_500_individuals",
                    periods=(Period(60, "calendar_days"),),
                    source=f"{HIPAA} 164.408(b)",
                    text="contemporaneously with the notice to individuals, for 500 or more individuals",
                ),
            ),
            notes="Breaches of fewer than 500 individuals go to HHS within 60 days after the end of the "
            "calendar year (164.408(c)); that annual log is not a clock here.",
        ),
        Regime(
            id="sg_pdpa",
            name="Singapore PDPA — notifiable data breaches",
            jurisdiction="Singapore",
            sources=("Personal Data Protection Act 2012 s. 26C", "Personal Data Protection Act 2012 s. 26D"),
            zone="Asia/Singapore",
            obligations=(
                Obligation(
                    id="commission_notification",
                    name="Notification to the PDPC",
                    recipient="Personal Data Protection Commission",
                    trigger="assessment_notifiable",
                    periods=(Period(3, "calendar_days", ends="end_of_day"),),
                    source="PDPA 2012 s. 26D(1)",
                    text="as soon as is practicable, but in any case no later than 3 calendar days after "
                    "the day the organisation makes that assessment",
                ),
                Obligation(
                    id="individuals_notification",
                    name="Notification to affected individuals",
                    recipient="affected individuals",
                    trigger="filed:commission_notification",
                    condition="significant_harm",
                    periods=(),
                    source="PDPA 2012 s. 26D(2)",
                    text="on or after notifying the Commission, in any manner that is reasonable",
                ),
            ),
        ),
        Regime(
            id="cert_in",
            name="CERT-In cyber incident reporting",
            jurisdiction="India",
            sources=("CERT-In Directions No. 20(3)/2022-CERT-In of 28 April 2022, direction (ii)",),
            obligations=(
                Obligation(
                    id="incident_report",
                    name="Cyber incident report",
                    recipient="CERT-In",
                    trigger="detection",
                    periods=(Period(6, "hours"),),
                    source="CERT-In Directions of 28 April 2022 (under s. 70B(6) IT Act 2000), (ii)",
                    text="within 6 hours of noticing such incidents or being brought to notice about them",
                ),
            ),
        ),
    )
}


def regime(regime_id: str) -> Regime:
    """The regime with this id; KeyError names the regimes that exist."""
    try:
        return REGIMES[regime_id]
    except KeyError:
        raise KeyError(f"no regime '{regime_id}' (known: {', '.join(REGIMES)})") from None


def markdown_table() -> str:
    """The regime table of docs/clocks.md, generated here so the two cannot drift (a test checks)."""
    rows = [
        "| regime | obligation | recipient | starts at | deadline | condition | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in REGIMES.values():
        for ob in item.obligations:
            limits = "; ".join(p.describe(ob.trigger) for p in ob.periods) or "no fixed deadline"
            if len(ob.periods) > 1:
                limits = "earliest of: " + limits
            if any(p.unit == "business_days" for p in ob.periods) and item.day_end is not None:
                limits += f" ({item.zone}, by {item.day_end:%H:%M})"
            elif any(p.ends == "end_of_day" for p in ob.periods):
                limits += f" (end of day, {item.zone})"
            rows.append(
                f"| `{item.id}` | {ob.name} | {ob.recipient} | `{ob.trigger}` | {limits} "
                f"| {ob.condition or ''} | {ob.source} |"
            )
    return "\n".join(rows) + "\n"
