"""Canonical JSON and event records."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from andon.errors import LedgerError
from andon.ledger.canonical import canonical_bytes, format_time, parse_time
from andon.ledger.events import KINDS, PAYLOAD_FIELDS, Event
from andon.ledger.verify import _embedded_index

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def test_canonical_form_is_sorted_compact_utf8() -> None:
    assert (
        canonical_bytes({"b": 1, "a": [1, {"d": None, "c": "é"}]})
        == '{"a":[1,{"c":"é","d":null}],"b":1}'.encode()
    )


@given(json_values)
def test_canonical_bytes_round_trip_and_are_stable(value: object) -> None:
    data = canonical_bytes(value)
    assert canonical_bytes(json.loads(data)) == data
    assert b"\n" not in data  # one event per line in evidence bundles


@given(
    st.text(max_size=30),
    st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    st.integers(0, 2**40),
)
def test_the_record_index_is_found_whatever_the_actor_and_payload(
    actor: str, payload: dict[str, object], index: int
) -> None:
    if not actor:
        actor = "a"
    event = Event(kind="note", actor=actor[:200], payload=payload, workflow=actor[:5] or None)
    record = event.canonical(index)
    assert record == canonical_bytes(event.record(index))  # the hand-written fast path is exact
    assert _embedded_index(record) == index == json.loads(record)["index"]


def test_times_are_rfc3339_utc_with_microseconds() -> None:
    when = datetime(2026, 3, 1, 14, 30, 15, 7, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(when) == "2026-03-01T12:30:15.000007Z"
    assert parse_time(format_time(when)) == when
    assert parse_time("2026-03-01T12:30:15.000007Z").tzinfo is UTC


def test_every_kind_has_documented_fields() -> None:
    assert set(PAYLOAD_FIELDS) == set(KINDS)
    assert {"prompt_version", "model", "input", "output", "confidence"} <= set(PAYLOAD_FIELDS["model_call"])
    assert {"result", "error", "retry_count"} <= set(PAYLOAD_FIELDS["action_outcome"])


def test_non_json_payloads_are_refused_naming_the_path() -> None:
    with pytest.raises(LedgerError, match=r"\$\.a\[0\]\.b is a set"):
        canonical_bytes({"a": [{"b": {1}}]})
    # JSON itself turns number keys into strings; the stored record is what the hash covers.
    assert canonical_bytes({"a": {1: 2}}) == b'{"a":{"1":2}}'
    with pytest.raises(LedgerError, match="lone surrogate"):
        canonical_bytes({"a": "\ud800"})
    with pytest.raises(LedgerError, match="inf"):
        canonical_bytes({"a": float("inf")})
