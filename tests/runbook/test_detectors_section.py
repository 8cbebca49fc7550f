"""The optional ``detectors:`` section of a workflow: defaults, typed values, positioned errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from runbook_helpers import load_problems

from andon.runbook.detectors import Detectors
from andon.runbook.load import load_runbook
from conftest import Write

RUNBOOK = """\
andon: 1
organisation:
  name: Acme
  contacts:
    ops: {name: Omar, role: operations, email: ops@acme.example}
    eng: {name: Eve, role: technical, email: eng@acme.example}
  escalation: [ops]
severities:
  - id: sev1
    name: Critical
    definition: Harm in progress
    acknowledge_within: 15m
    page: [ops]
workflows:
  - id: triage
    purpose: Routes tickets
    owners: {business: ops, technical: eng}
    model: {provider: openai, name: gpt-4.1-mini}
    tools:
      - {name: crm.update, effect: write, undo: crm.restore}
    autonomy: advise
    recovery: Pause and restore.
"""


def with_detectors(text: str) -> str:
    return RUNBOOK + "    detectors:\n" + "".join(f"      {line}\n" for line in text.splitlines())


def only(problems: list) -> tuple[str, str, str]:  # type: ignore[type-arg]
    assert len(problems) == 1, [p.render() for p in problems]
    p = problems[0]
    return f"{Path(p.file).name}:{p.line}:{p.column}", p.code, p.message


def test_absent_section_means_defaults(write: Write) -> None:
    workflow = load_runbook(write(RUNBOOK)).workflow("triage")
    assert workflow.detectors is None
    defaults = Detectors()
    assert defaults.cooldown == timedelta(minutes=10)
    assert defaults.write_rate.max is None and defaults.write_rate.limit_share == 0.8
    assert defaults.drift.alpha == 0.0001 and defaults.retry_storm.repeats == 5


def test_thresholds_are_typed_and_unset_keys_keep_defaults(write: Write) -> None:
    text = "cooldown: 2m\nwrite_rate: {max: 30, window: 10s}\ndrift: {label: route, alpha: 0.01}\n"
    text += "outbound_data: {kinds: [card, secret], allow: ['+44 20 7946 0001']}\n"
    text += "rubber_stamp: {enabled: false}"
    detectors = load_runbook(write(with_detectors(text))).workflow("triage").detectors
    assert detectors is not None
    assert detectors.cooldown == timedelta(minutes=2)
    assert (detectors.write_rate.max, detectors.write_rate.window) == (30, timedelta(seconds=10))
    assert detectors.drift.label == "route" and detectors.drift.min_samples == 100
    assert detectors.outbound_data.kinds == ["card", "secret"]
    assert detectors.rubber_stamp.enabled is False and detectors.error_rate.enabled is True


def test_stored_document_round_trips(write: Write) -> None:
    runbook = load_runbook(write(with_detectors("write_rate: {window: 90s}\nerror_rate: {rate: 0.5}")))
    document = runbook.to_document()
    assert document["workflows"][0]["detectors"]["write_rate"]["window"] == "1m30s"
    assert type(runbook).from_document(document) == runbook


def test_share_above_one_is_a_positioned_error(write: Write) -> None:
    path = write(with_detectors("error_rate: {rate: 1.5}"))
    where, code, message = only(load_problems(path))
    assert (where, code) == ("runbook.yaml:24:26", "AND006")
    assert message == "'rate' must be at most 1.0, not the number 1.5"


def test_zero_count_is_refused(write: Write) -> None:
    where, code, message = only(load_problems(write(with_detectors("retry_storm:\n  repeats: 1"))))
    assert (where, code) == ("runbook.yaml:25:18", "AND006")
    assert "'repeats' must be at least 2" in message


def test_bad_window_says_what_a_duration_looks_like(write: Write) -> None:
    where, code, message = only(load_problems(write(with_detectors("write_rate: {window: soon}"))))
    assert (where, code) == ("runbook.yaml:24:28", "AND006")
    assert "is not a duration" in message and "15m" in message


def test_typo_in_a_detector_name(write: Write) -> None:
    where, code, message = only(load_problems(write(with_detectors("retry_strom: {repeats: 3}"))))
    assert (where, code) == ("runbook.yaml:24:7", "AND004")
    assert "retry_storm" in message


def test_unknown_threshold_key(write: Write) -> None:
    _, code, message = only(load_problems(write(with_detectors("drift: {p_value: 0.05}"))))
    assert code == "AND004" and "p_value" in message and "min_samples" in message  # lists the valid keys


def test_min_samples_must_fit_the_windows(write: Write) -> None:
    _, _, message = only(load_problems(write(with_detectors("drift: {min_samples: 300, current: 200}"))))
    assert "min_samples (300) must fit in both windows" in message


def test_bad_injection_pattern(write: Write) -> None:
    _, _, message = only(load_problems(write(with_detectors("prompt_injection: {patterns: ['([a-z']}"))))
    assert "not a valid regular expression" in message
