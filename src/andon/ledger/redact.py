"""Redaction before storage: mask e-mail addresses, phone numbers, card numbers and secrets in payloads.

A masked value becomes ``[rule:hhhhhhhhhh]`` where the ten hex digits are a truncated
HMAC-SHA256 of the value under a key kept in the data directory: the same address masks to the
same token in every event, so an investigator can still follow it, but the ledger never holds it.
Redaction runs before canonicalisation and hashing, so the masked form is what the tree proves.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from andon.errors import ConfigError

DIGEST_CHARS = 10


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn check that every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(text: str) -> bool:
    digits = re.sub(r"[ -]", "", text)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


_DATE_LIKE = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}")


def _phone(text: str) -> bool:
    digits = sum(ch.isdigit() for ch in text)
    if text.startswith(("+", "(")):
        return 8 <= digits <= 15
    # Without a country code or area-code brackets, demand grouping so that ids, amounts and
    # dates are left alone.
    if not 9 <= digits <= 15 or _DATE_LIKE.search(text):
        return False
    return bool(re.search(r"\d[ .-]\d", text)) and text.count(".") != 1


@dataclass(frozen=True, slots=True)
class Rule:
    """One masking rule: a pattern, an optional check on each match, and which group to mask.

    ``trigger``, when set, is something every match contains: text without it skips the rule, which
    keeps the common string (an id, a tool name, a short answer) to one cheap scan per rule.
    """

    name: str
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    group: int = 0
    trigger: re.Pattern[str] | None = None


_SECRET_PATTERNS = (
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{16,}",  # OpenAI / Anthropic style API keys
    r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}",  # Stripe secret and restricted keys
    r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{30,}",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack tokens
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
    r"\bAIza[0-9A-Za-z_-]{35}",  # Google API keys
    r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}",  # JWTs
)
# Triggers begin with a literal or a character class, so the regex engine skips ahead in C.
_TRIGGERS = {
    "secret": r"sk-|sk_|rk_|gh[oprsu]_|github_pat_|xox|AKIA|ASIA|AIza|eyJ",
    "bearer": r"b(?i:earer)|B(?i:earer)",
    "email": r"@",
    "card": r"\d(?:[ -]?\d){12}",
    # Seven characters of a phone or card number from its first digit, which follows no letter, digit
    # or dash (after a "+" or "(" it may): so hex ids and digests ("act-3f09…") do not trigger it.
    "phone": r"(?<![\w-])\d[\d\s().-]{6}",  # also contained in every card number
}
_T = {name: re.compile(pattern) for name, pattern in _TRIGGERS.items()}

BUILTIN_RULES: dict[str, tuple[Rule, ...]] = {
    "secret": (
        Rule("secret", re.compile("|".join(_SECRET_PATTERNS)), trigger=_T["secret"]),
        # Bearer tokens: keep the word, mask the token.
        Rule(
            "secret", re.compile(r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{8,}=*)"), group=1, trigger=_T["bearer"]
        ),
    ),
    "email": (
        # Matches start where a run of address characters starts (the leftmost start anyway), which
        # keeps the search linear in long words.
        Rule(
            "email",
            re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            trigger=_T["email"],
        ),
    ),
    # Word boundaries, not digit boundaries: a run of digits inside a hex id or digest is no card.
    "card": (
        Rule("card", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"), check=_card, trigger=_T["card"]),
    ),
    "phone": (
        Rule(
            "phone",
            re.compile(r"(?<![\w+.-])(?:\+|\(\d{1,5}\)[\s.-]?)?\d[\d\s().-]{6,22}\d(?![\w.-]*\w)"),
            check=_phone,
            trigger=_T["phone"],
        ),
    ),
}
BUILTIN_NAMES: tuple[str, ...] = ("secret", "email", "card", "phone")  # the order rules claim matches in

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
_CLEAN_MAX_CHARS = 100
_CLEAN_MAX_ENTRIES = 4096


class Redactor:
    """Masks matches of its rules in every string of a payload; build one per runbook revision."""

    def __init__(
        self,
        *,
        key: bytes,
        builtin: Iterable[str] = BUILTIN_NAMES,
        patterns: Sequence[Mapping[str, str]] = (),
    ) -> None:
        rules: list[Rule] = []
        for i, spec in enumerate(patterns):
            rules.append(_custom_rule(spec, where=f"redaction.patterns[{i}]"))
        chosen = list(builtin)
        unknown = [name for name in chosen if name not in BUILTIN_RULES]
        if unknown:
            raise ConfigError(
                f"redaction.builtin: unknown rule {unknown[0]!r}; choose from {', '.join(BUILTIN_NAMES)}"
            )
        self._custom = tuple(rules)  # always scanned: nothing is known about what they match
        enabled = [name for name in BUILTIN_NAMES if name in chosen]  # fixed order, whatever the runbook's
        for name in enabled:
            rules.extend(BUILTIN_RULES[name])
        if len(key) < 16:
            raise ConfigError("the redaction key must be at least 16 bytes")
        self.rules = tuple(rules)
        # One or two scans tell whether any builtin rule could match at all: the literal triggers in
        # one alternation, and the digit run that every phone and card number contains.
        literal = [
            _TRIGGERS[t]
            for n, t in (("secret", "secret"), ("secret", "bearer"), ("email", "email"))
            if n in enabled
        ]
        quick = ["|".join(literal)] if literal else []
        if {"card", "phone"} & set(enabled):
            quick.append(_TRIGGERS["phone"])
        self._quick = tuple(re.compile(pattern) for pattern in quick)
        # Short strings found to need no masking: the tool names, decisions and reasons that recur in
        # every event. It holds nothing a rule matches, so no personal data is kept by it.
        self._clean: set[str] = set()
        self._key = key

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, *, key_dir: Path | None = None) -> Redactor:
        """A redactor from a runbook's ``redaction`` section (``builtin`` names, ``patterns`` list).

        A missing section means every builtin rule. The key comes from ``key_dir`` (default the data dir).
        """
        from andon.ledger.keys import redaction_key

        section = section or {}
        builtin = section.get("builtin")
        if builtin is None:
            builtin = BUILTIN_NAMES
        patterns = section.get("patterns", ())
        if isinstance(builtin, str) or not isinstance(builtin, Iterable):
            raise ConfigError("redaction.builtin must be a list of rule names")
        if not isinstance(patterns, Sequence) or isinstance(patterns, str):
            raise ConfigError("redaction.patterns must be a list of {name, pattern}")
        return cls(key=redaction_key(key_dir), builtin=builtin, patterns=patterns)

    def mask(self, rule: str, value: str) -> str:
        """The token that replaces ``value`` under ``rule``."""
        digest = hmac.new(self._key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return f"[{rule}:{digest[:DIGEST_CHARS]}]"

    def redact_text(self, text: str) -> str:
        """``text`` with every match masked; earlier rules win where matches overlap."""
        clean = self._clean
        if text in clean:
            return text
        masked = self._masked(text)
        if masked is text and len(text) <= _CLEAN_MAX_CHARS:
            if len(clean) >= _CLEAN_MAX_ENTRIES:
                clean.clear()
            clean.add(text)
        return masked

    def _masked(self, text: str) -> str:
        rules = self._custom
        for quick in self._quick:
            if quick.search(text):
                rules = self.rules
                break
        if not rules:
            return text
        claimed: list[tuple[int, int, str]] = []
        for rule in rules:
            if rule.trigger is not None and not rule.trigger.search(text):
                continue
            for match in rule.pattern.finditer(text):
                start, end = match.span(rule.group)
                if start == end or any(start < e and s < end for s, e, _ in claimed):
                    continue
                value = text[start:end]
                if rule.check is None or rule.check(value):
                    claimed.append((start, end, self.mask(rule.name, value)))
        if not claimed:
            return text
        claimed.sort()
        out, cursor = [], 0
        for start, end, token in claimed:
            out.append(text[cursor:start])
            out.append(token)
            cursor = end
        out.append(text[cursor:])
        return "".join(out)

    def redact(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``payload`` with every string value (at any depth) redacted; keys are kept."""
        value = self._value
        return {key: value(item) for key, item in payload.items()}

    def _value(self, value: Any) -> Any:
        kind = type(value)  # exact types first: payloads are JSON, and ABC checks cost more than the rest
        if kind is str:
            return self.redact_text(value)
        if value is None or kind is int or kind is float or kind is bool:
            return value
        if kind is dict or isinstance(value, Mapping):
            return {k: self._value(v) for k, v in value.items()}
        if kind is list or isinstance(value, list | tuple):
            return [self._value(v) for v in value]
        if isinstance(value, str):
            return self.redact_text(value)
        return value


def _custom_rule(spec: Mapping[str, str], *, where: str) -> Rule:
    if not isinstance(spec, Mapping) or "name" not in spec or "pattern" not in spec:
        raise ConfigError(f"{where}: give a mapping with 'name' and 'pattern'")
    name, pattern = spec["name"], spec["pattern"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"{where}.name: {name!r} must be lower-case letters, digits and _ (at most 40)")
    if name in BUILTIN_RULES:
        raise ConfigError(f"{where}.name: {name!r} is a builtin rule; list it under redaction.builtin")
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise ConfigError(f"{where}.pattern: {pattern!r} is not a valid regular expression: {exc}") from None
    return Rule(name, compiled)
