"""Redaction: builtin rules, custom patterns, correlation tokens, and refusal of bad configuration."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from andon.errors import ConfigError
from andon.ledger.redact import Redactor, luhn_ok

KEY = b"k" * 32
TOKEN = r"\[{}:[0-9a-f]{{10}}\]"


def _redactor(**kw: object) -> Redactor:
    return Redactor(key=KEY, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("dana.price+tickets@acme.example", "email"),
        ("+44 20 7946 0001", "phone"),
        ("(020) 7946 0001", "phone"),
        ("020-7946-0001", "phone"),
        ("4111 1111 1111 1111", "card"),
        ("5500-0000-0000-0004", "card"),
        ("4012888888881881", "card"),
        ("sk-proj-abcdefghijklmnop1234", "secret"),
        ("sk_live_abcdefghijklmnop1234", "secret"),
        ("ghp_" + "a" * 36, "secret"),
        ("xoxb-1234567890-abcdefghij", "secret"),
        ("AKIAIOSFODNN7EXAMPLE", "secret"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
            "secret",
        ),
    ],
)
def test_builtin_rules_mask_what_they_should(text: str, rule: str) -> None:
    masked = _redactor().redact_text(f"contact: {text}.")
    assert text not in masked
    assert re.fullmatch(rf"contact: {TOKEN.format(rule)}\.", masked), masked


def test_bearer_tokens_keep_the_word_and_lose_the_token() -> None:
    masked = _redactor().redact_text("Authorization: Bearer abc.def-ghi_jkl123")
    assert re.fullmatch(rf"Authorization: Bearer {TOKEN.format('secret')}", masked)


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 failed",  # fails the Luhn check: not a card
        "released on 2026-11-22 at 10:15",
        "ticket 123456 has priority 2",
        "total 1234.56 EUR",
        "run-20261122-0001",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert _redactor().redact_text(text) == text


def test_same_value_same_token_different_value_different_token() -> None:
    redactor = _redactor()
    a = redactor.redact_text("dana@acme.example")
    assert redactor.redact_text("mail dana@acme.example now") == f"mail {a} now"
    assert redactor.redact_text("omar@acme.example") != a
    # another key gives unrelated tokens, so tokens leak nothing across deployments
    assert Redactor(key=b"x" * 32).redact_text("dana@acme.example") != a


def test_payloads_are_redacted_at_every_depth_and_keys_kept() -> None:
    payload = {
        "to": "dana@acme.example",
        "n": 3,
        "ok": True,
        "nested": {"list": ["call +44 20 7946 0001", None]},
    }
    out = _redactor().redact(payload)
    assert set(out) == set(payload) and out["n"] == 3 and out["ok"] is True
    assert out["nested"]["list"][1] is None
    assert re.fullmatch(rf"call {TOKEN.format('phone')}", out["nested"]["list"][0])
    assert payload["to"] == "dana@acme.example"  # the caller's dict is untouched


def test_only_the_chosen_rules_and_custom_patterns_apply(tmp_path: Path) -> None:
    redactor = Redactor.from_config(
        {"builtin": ["email"], "patterns": [{"name": "account_id", "pattern": "ACCT-[0-9]{6}"}]},
        key_dir=tmp_path,
    )
    masked = redactor.redact_text("ACCT-123456 dana@acme.example +44 20 7946 0001")
    assert re.fullmatch(rf"{TOKEN.format('account_id')} {TOKEN.format('email')} \+44 20 7946 0001", masked)
    assert (tmp_path / "redaction.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"builtin": ["emails"]}, "unknown rule 'emails'"),
        ({"patterns": [{"name": "x", "pattern": "("}]}, r"redaction.patterns\[0\].pattern"),
        ({"patterns": [{"pattern": "x"}]}, "'name' and 'pattern'"),
        ({"patterns": [{"name": "Bad Name", "pattern": "x"}]}, "lower-case"),
        ({"patterns": [{"name": "email", "pattern": "x"}]}, "builtin rule"),
    ],
)
def test_bad_configuration_is_refused_with_the_place_named(
    tmp_path: Path, section: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Redactor.from_config(section, key_dir=tmp_path)


def test_luhn() -> None:
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")
