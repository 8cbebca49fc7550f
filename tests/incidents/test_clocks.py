"""Regulatory clocks with exact deadlines, from explicit trigger acts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from andon.incidents.clocks import Clock, ClockError, Filing, Finding, Trigger, compute_clocks
from andon.incidents.regimes import CONDITIONS, REGIMES, TRIGGERS
from andon.runbook.vocabulary import REGIME_IDS

NY = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def act(name: str, when: datetime, regime: str | None = None) -> Trigger:
    return Trigger(
        name, who="dana.price", when=when, statement=f"{name} recorded in the bridge", regime=regime
    )


def only(clocks: list[Clock], obligation: str) -> Clock:
    matches = [c for c in clocks if c.obligation == obligation]
    assert len(matches) == 1, [c.key for c in clocks]
    return matches[0]


def test_gdpr_72_hours_across_a_dst_change_is_72_real_hours() -> None:
    aware = utc(2026, 3, 27, 10)  # Europe and the UK move clocks forward on 29 March 2026
    clock = only(compute_clocks(["uk_gdpr"], triggers=[act("awareness", aware)]), "authority_notification")
    assert clock.deadline == utc(2026, 3, 30, 10)
    assert clock.deadline - aware == timedelta(hours=72)
    london = ZoneInfo("Europe/London")
    # On the wall clock in London it reads 73 hours (10:00 GMT -> 11:00 BST); the law counts elapsed time.
    assert aware.astimezone(london).hour == 10
    assert clock.deadline.astimezone(london).hour == 11
    assert clock.recipient.startswith("Information Commissioner")


def test_gdpr_communication_to_individuals_needs_the_high_risk_finding_and_has_no_fixed_deadline() -> None:
    aware = utc(2026, 3, 27, 10)
    without = compute_clocks(["eu_gdpr"], triggers=[act("awareness", aware)])
    assert [c.obligation for c in without] == ["authority_notification"]
    finding = Finding("high_risk_to_individuals", who="dpo", when=aware, statement="card numbers exposed")
    clocks = compute_clocks(["eu_gdpr"], triggers=[act("awareness", aware)], findings=[finding])
    individuals = only(clocks, "individuals_communication")
    assert individuals.deadline is None
    assert individuals.status(aware + timedelta(days=9)) == "asap"
    assert individuals.time_left(aware) is None
    assert clocks[-1] is individuals  # undated clocks sort after the dated ones


def test_sec_four_business_days_across_thanksgiving() -> None:
    determined = datetime(2026, 11, 24, 15, 0, tzinfo=NY)  # Tuesday before Thanksgiving
    clock = only(compute_clocks(["sec_8k"], triggers=[act("materiality_determined", determined)]), "form_8k")
    # Wed 25 (1), Thu 26 Thanksgiving, Fri 27 (2), Mon 30 (3), Tue 1 Dec (4), by 17:30 Eastern.
    assert clock.deadline == datetime(2026, 12, 1, 17, 30, tzinfo=NY)
    assert clock.deadline == utc(2026, 12, 1, 22, 30)


def test_sec_four_business_days_across_july_4th_on_a_saturday() -> None:
    determined = utc(2026, 7, 1, 14)  # Wednesday 10:00 EDT; 4 July 2026 is a Saturday, observed Friday 3
    clock = only(compute_clocks(["sec_8k"], triggers=[act("materiality_determined", determined)]), "form_8k")
    # Thu 2 (1), Fri 3 observed holiday, Mon 6 (2), Tue 7 (3), Wed 8 (4).
    assert clock.deadline == utc(2026, 7, 8, 21, 30)  # 17:30 EDT


def test_sec_counts_the_eastern_date_of_the_determination_and_weekends() -> None:
    monday_evening = utc(2026, 11, 24, 3)  # 22:00 EST on Monday 23 November
    clock = compute_clocks(["sec_8k"], triggers=[act("materiality_determined", monday_evening)])[0]
    assert clock.deadline == utc(2026, 11, 30, 22, 30)  # Tue, Wed, Fri, Mon
    saturday = utc(2026, 11, 28, 16)
    clock = compute_clocks(["sec_8k"], triggers=[act("materiality_determined", saturday)])[0]
    # General Instruction B.1: the period begins on, and includes, the first business day thereafter.
    assert clock.deadline == utc(2026, 12, 3, 22, 30)  # Mon (1) .. Thu (4)


def test_nis2_final_report_runs_one_month_from_the_filed_notification_clamped_to_month_end() -> None:
    aware = utc(2027, 1, 30, 9)
    triggers = [act("awareness", aware)]
    clocks = compute_clocks(["nis2"], triggers=triggers)
    assert [(c.obligation, c.deadline) for c in clocks] == [
        ("early_warning", utc(2027, 1, 31, 9)),
        ("incident_notification", utc(2027, 2, 2, 9)),
    ]
    filed = Filing(
        "nis2", "incident_notification", who="ciso", when=utc(2027, 1, 31, 15), reference="CSIRT-1"
    )
    final = only(compute_clocks(["nis2"], triggers=triggers, filings=[filed]), "final_report")
    assert final.deadline == utc(2027, 2, 28, 15)  # 31 January + 1 month = last day of February
    assert final.started_by == filed
    leap = Filing("nis2", "incident_notification", who="ciso", when=utc(2028, 1, 31, 15))
    final = only(compute_clocks(["nis2"], triggers=triggers, filings=[leap]), "final_report")
    assert final.deadline == utc(2028, 2, 29, 15)


def test_dora_initial_notification_is_the_earlier_of_4h_from_classification_and_24h_from_awareness() -> None:
    aware = utc(2026, 5, 4, 8)
    quick = [act("awareness", aware), act("classification_major", utc(2026, 5, 4, 9))]
    clock = only(compute_clocks(["dora"], triggers=quick), "initial_notification")
    assert (clock.deadline, clock.basis) == (utc(2026, 5, 4, 13), "4 hours from classification_major")
    slow = [act("awareness", aware), act("classification_major", utc(2026, 5, 5, 6))]
    clock = only(compute_clocks(["dora"], triggers=slow), "initial_notification")
    assert (clock.deadline, clock.basis) == (utc(2026, 5, 5, 8), "24 hours from awareness")
    assert clock.started_at == utc(2026, 5, 5, 6)
    # Before classification there is no DORA obligation at all.
    assert compute_clocks(["dora"], triggers=[act("awareness", aware)]) == []


def test_dora_reports_chain_from_filings_and_the_final_uses_the_latest_intermediate() -> None:
    triggers = [act("awareness", utc(2026, 5, 4, 8)), act("classification_major", utc(2026, 5, 4, 9))]
    filings = [
        Filing("dora", "initial_notification", who="ops", when=utc(2026, 5, 4, 12, 30)),
        Filing("dora", "intermediate_report", who="ops", when=utc(2026, 5, 6, 10)),
        Filing("dora", "intermediate_report", who="ops", when=utc(2026, 5, 8, 10), statement="update"),
    ]
    clocks = compute_clocks(["dora"], triggers=triggers, filings=filings)
    assert only(clocks, "intermediate_report").deadline == utc(2026, 5, 7, 12, 30)
    assert only(clocks, "intermediate_report").filing == filings[1]  # met by the first one
    assert only(clocks, "final_report").deadline == utc(2026, 6, 8, 10)


def test_ai_act_15_days_shortened_to_10_on_death_and_2_for_critical_infrastructure() -> None:
    aware = utc(2026, 9, 1, 10)
    triggers = [act("awareness", aware)]
    assert compute_clocks(["eu_ai_act"], triggers=triggers)[0].deadline == utc(2026, 9, 16, 10)
    death = Finding("death", who="dpo", when=utc(2026, 9, 2), statement="causal link suspected")
    clock = compute_clocks(["eu_ai_act"], triggers=triggers, findings=[death])[0]
    assert (clock.deadline, clock.basis) == (utc(2026, 9, 11, 10), "10 calendar days from awareness if death")
    widespread = Finding("widespread_or_critical_infrastructure", who="ciso", when=aware, statement="grid")
    clock = compute_clocks(["eu_ai_act"], triggers=triggers, findings=[death, widespread])[0]
    assert clock.deadline == utc(2026, 9, 3, 10)


def test_pdpa_ends_with_the_third_singapore_day_after_the_assessment_day() -> None:
    assessed = utc(2026, 3, 2, 20)  # Tuesday 3 March 04:00 in Singapore
    clock = compute_clocks(["sg_pdpa"], triggers=[act("assessment_notifiable", assessed)])[0]
    assert clock.deadline == datetime(2026, 3, 7, 0, 0, tzinfo=ZoneInfo("Asia/Singapore"))
    assert clock.deadline == utc(2026, 3, 6, 16)


def test_hipaa_60_calendar_days_and_conditional_media_notice() -> None:
    discovered = utc(2026, 1, 10, 12)
    clocks = compute_clocks(["hipaa"], triggers=[act("discovery", discovered)])
    assert [(c.obligation, c.deadline) for c in clocks] == [("individuals_notice", utc(2026, 3, 11, 12))]
    big = Finding("over_500_in_one_state", who="privacy", when=discovered, statement="812 Ohio residents")
    clocks = compute_clocks(["hipaa"], triggers=[act("discovery", discovered)], findings=[big])
    assert {c.obligation for c in clocks} == {"individuals_notice", "media_notice"}


def test_cert_in_six_hours_and_a_regime_scoped_trigger() -> None:
    noticed = utc(2026, 6, 1, 23, 30)
    triggers = [act("detection", noticed, regime="cert_in"), act("awareness", noticed, regime="uk_gdpr")]
    clocks = compute_clocks(["cert_in", "nis2"], triggers=triggers)
    assert [(c.key, c.deadline) for c in clocks] == [("cert_in/incident_report", utc(2026, 6, 2, 5, 30))]


def test_the_earliest_trigger_counts() -> None:
    triggers = [act("awareness", utc(2026, 3, 2, 9)), act("awareness", utc(2026, 3, 1, 9))]
    clock = compute_clocks(["uk_gdpr"], triggers=triggers)[0]
    assert clock.deadline == utc(2026, 3, 4, 9)


def test_status_runs_down_and_is_met_by_a_filing() -> None:
    aware = utc(2026, 3, 27, 10)
    clock = compute_clocks(["uk_gdpr"], triggers=[act("awareness", aware)])[0]
    assert clock.status(aware + timedelta(hours=1)) == "running"
    assert clock.status(aware + timedelta(hours=54)) == "due_soon"  # 75 % used
    assert clock.status(aware + timedelta(hours=72)) == "overdue"
    assert clock.time_left(aware + timedelta(hours=80)) == timedelta(hours=-8)
    assert clock.as_dict(aware + timedelta(hours=70))["seconds_left"] == 7200

    on_time = Filing("uk_gdpr", "authority_notification", who="dpo", when=aware + timedelta(hours=50))
    clock = compute_clocks(["uk_gdpr"], triggers=[act("awareness", aware)], filings=[on_time])[0]
    assert clock.status(aware + timedelta(hours=49)) == "running"  # the filing is not yet made then
    assert clock.status(aware + timedelta(hours=100)) == "met"
    assert not clock.filed_late

    late = Filing("uk_gdpr", "authority_notification", who="dpo", when=aware + timedelta(hours=75))
    clock = compute_clocks(["uk_gdpr"], triggers=[act("awareness", aware)], filings=[late])[0]
    assert clock.status(aware + timedelta(hours=76)) == "met"
    assert clock.filed_late

    waived = Filing(
        "uk_gdpr",
        "authority_notification",
        who="dpo",
        when=aware + timedelta(hours=3),
        statement="encrypted laptop, key not exposed: unlikely to result in a risk (Art. 33(1))",
        disposition="not_required",
    )
    clock = compute_clocks(["uk_gdpr"], triggers=[act("awareness", aware)], filings=[waived])[0]
    assert clock.status(aware + timedelta(hours=4)) == "not_required"


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ClockError, match="timezone-aware"):
        Trigger("awareness", who="dpo", when=datetime(2026, 3, 1, 9), statement="x")  # naive on purpose
    with pytest.raises(ClockError, match="who took the decision"):
        Trigger("awareness", who="", when=utc(2026, 3, 1), statement="x")
    with pytest.raises(ClockError, match="no regime 'gdpr'"):
        compute_clocks(["gdpr"], triggers=[])
    wrong = Filing("uk_gdpr", "authority_notice", who="dpo", when=utc(2026, 3, 1))
    with pytest.raises(ClockError, match="no obligation 'authority_notice'"):
        compute_clocks(["uk_gdpr"], triggers=[], filings=[wrong])
    clock = compute_clocks(["uk_gdpr"], triggers=[act("awareness", utc(2026, 3, 1))])[0]
    with pytest.raises(ClockError, match="now must be timezone-aware"):
        clock.status(datetime(2026, 3, 2))  # naive on purpose


def test_the_regime_table_is_consistent_with_the_runbook_vocabulary() -> None:
    assert set(REGIMES) == set(REGIME_IDS)
    for regime in REGIMES.values():
        assert regime.sources, regime.id
        ids = {o.id for o in regime.obligations}
        for obligation in regime.obligations:
            assert obligation.source and obligation.text
            starts = [obligation.trigger, *(p.trigger for p in obligation.periods if p.trigger)]
            for name in starts:
                if name.startswith("filed:"):
                    assert name.removeprefix("filed:") in ids
                else:
                    assert name in TRIGGERS, (regime.id, name)
            for condition in [obligation.condition, *(p.condition for p in obligation.periods)]:
                assert condition is None or condition in CONDITIONS
