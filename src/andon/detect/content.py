"""Detectors over what goes in and out: prompt injection, personal data or secrets in outbound
messages, and messages to an address not linked to the record."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from andon.detect.base import Context, Cooldown, Detector, digits_of
from andon.detect.patterns import scanner
from andon.detect.signal import Bounded, LedgerEvent, Signal, fingerprint, texts
from andon.ledger.redact import BUILTIN_NAMES, BUILTIN_RULES

_MAX_RUNS = 5_000  # runs whose record addresses are remembered per workflow
_MAX_ADDRESSES = 64  # record addresses remembered per run
_EMAIL = BUILTIN_RULES["email"][0].pattern
# What the ledger's redactor leaves in place of a masked value: "[email:0123456789]".
_MASKED = re.compile(r"\[(secret|email|card|phone):[0-9a-f]{10}\]")


class PromptInjection(Detector):
    """Injection patterns in what the agent reads: run input, model-call input, retrieved documents."""

    name = "prompt_injection"
    incident_class = "prompt_injection"
    kinds = frozenset({"model_call", "retrieval", "note"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.scanner = scanner(tuple(context.config.prompt_injection.patterns))

    def observe(self, event: LedgerEvent) -> Signal | None:
        payload = event.payload
        if event.kind == "retrieval":
            where, value = f"retrieval source '{payload.get('source')}'", payload.get("documents")
        else:
            where, value = ("run input" if event.kind == "note" else "model input"), payload.get("input")
        if value is None:
            return None
        found = self.scanner.scan("\n\n".join(texts(value)))
        if found is not None:
            how = "base64-encoded " if found.encoded else ""
            return self.signal(
                event,
                severity="critical" if event.kind == "retrieval" else "high",
                summary=f"{how}{found.pattern.replace('_', ' ')} in {where}: “{found.text}”",
                indexes=(event.index,),
                key=fingerprint([found.pattern, found.text.lower()]),
                details={
                    "pattern": found.pattern,
                    "match": found.text,
                    "encoded": found.encoded,
                    "where": where,
                    "run_id": event.run_id,
                },
            )
        return None


def _recipients(args: dict[str, Any], fields: list[str]) -> list[str]:
    found: list[str] = []
    for name in fields:
        value = args.get(name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item.strip():
                found.append(item.strip().lower())
    return found


def _is_send(payload: dict[str, Any]) -> bool:
    return payload.get("effect") == "send" and payload.get("decision") != "deny"


class OutboundData(Detector):
    """E-mail addresses (other than the recipient), phone numbers, card numbers and secrets in the
    arguments of send actions, found with the ledger's own redaction rules."""

    name = "outbound_data"
    incident_class = "sensitive_data_exposure"
    kinds = frozenset({"decision"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        cfg = context.config.outbound_data
        self.fields = cfg.recipient_fields
        self.rules = [rule for name in BUILTIN_NAMES if name in cfg.kinds for rule in BUILTIN_RULES[name]]
        self.kinds_masked = frozenset(cfg.kinds)
        allow = {value.strip().lower() for value in cfg.allow}
        allow |= {digits_of(value) for value in cfg.allow if len(digits_of(value)) >= 7}
        self.allow = frozenset(allow | context.own_contacts)
        self.masked_allowed = context.masked_allowed

    def observe(self, event: LedgerEvent) -> Signal | None:
        payload = event.payload
        args = payload.get("args")
        if not _is_send(payload) or not isinstance(args, dict):
            return None
        recipients = set(_recipients(args, self.fields))
        body = {key: value for key, value in args.items() if key not in self.fields}
        found: dict[str, int] = {}
        for text in texts(body):
            for kind in self._find(text, recipients):
                found[kind] = found.get(kind, 0) + 1
        if not found:
            return None
        listed = ", ".join(f"{count} {kind}" for kind, count in sorted(found.items()))
        tool = payload.get("tool")
        return self.signal(
            event,
            severity="critical" if {"card", "secret"} & found.keys() else "high",
            summary=f"'{tool}' sends {listed} to {', '.join(sorted(recipients)) or 'an unnamed recipient'}",
            indexes=(event.index,),
            key=f"{tool}:{','.join(sorted(found))}",
            details={"tool": tool, "found": found, "run_id": event.run_id},
        )

    def _find(self, text: str, recipients: set[str]) -> Iterator[str]:
        claimed: list[tuple[int, int]] = []
        for rule in self.rules:
            for match in rule.pattern.finditer(text):
                start, end = match.span(rule.group)
                if start == end or any(start < e and s < end for s, e in claimed):
                    continue
                value = text[start:end]
                if rule.check is not None and not rule.check(value):
                    continue
                claimed.append((start, end))
                if self._allowed(rule.name, value, recipients):
                    continue
                yield rule.name
        for match in _MASKED.finditer(text):
            token = match.group(0)
            allowed = token in recipients or token in self.masked_allowed
            if match.group(1) in self.kinds_masked and not allowed:
                yield match.group(1)

    def _allowed(self, kind: str, value: str, recipients: set[str]) -> bool:
        lowered = value.lower()
        if lowered in recipients or lowered in self.allow:
            return True
        return kind == "phone" and digits_of(value) in self.allow


def record_addresses(value: Any, *, depth: int = 0) -> Iterator[str]:
    """E-mail addresses held in fields named like ``email`` (``customer_email``, ``emails`` …).

    Addresses in free text (a ticket body, an attachment) are not the record's: an attacker can
    write any address there.
    """
    if depth > 8:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and ("email" in key.lower() or "e-mail" in key.lower()):
                for address in item if isinstance(item, list) else [item]:
                    if isinstance(address, str) and (
                        _EMAIL.fullmatch(address.strip()) or _MASKED.fullmatch(address.strip())
                    ):
                        yield address.strip().lower()
            elif isinstance(item, dict | list):
                yield from record_addresses(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from record_addresses(item, depth=depth + 1)


class _Run:
    """What one run read (record addresses, where first seen) and its sends not yet judged."""

    __slots__ = ("linked", "pending")

    def __init__(self) -> None:
        self.linked: dict[str, int] = {}
        self.pending: list[tuple[int, str, list[str]]] = []  # send index, tool, recipients


class WrongRecipient(Detector):
    """A send to an address that none of the records read in the same run is linked to.

    Reads and retrievals are logged in the background while a send's decision is written at once, so
    the ledger may hold a send before the reads that preceded it. A send in a run with no record read
    yet is therefore judged when the run ends (its "run ended" note comes after all its logged events).
    """

    name = "wrong_recipient"
    incident_class = "wrong_recipient"
    kinds = frozenset({"note", "model_call", "retrieval", "decision", "action_outcome"})
    _sources: ClassVar[dict[str, str]] = {
        "note": "input",
        "model_call": "input",
        "retrieval": "documents",
        "action_outcome": "result",
    }

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.fields = context.config.wrong_recipient.recipient_fields
        self.runs: Bounded[str, _Run] = Bounded(_MAX_RUNS)

    def _run(self, run_id: str) -> _Run:
        state = self.runs.get(run_id)
        if state is None:
            state = _Run()
            self.runs.put(run_id, state)
        return state

    def observe(self, event: LedgerEvent) -> Signal | None:
        run_id = event.run_id
        if run_id is None:
            return None
        payload = event.payload
        if event.kind == "decision":
            args = payload.get("args")
            if _is_send(payload) and isinstance(args, dict):
                return self._send(event, run_id, str(payload.get("tool")), _recipients(args, self.fields))
            if payload.get("effect") != "read":
                return None
            value: Any = [args, payload.get("result")]
        elif event.kind == "note" and str(payload.get("text", "")).startswith("run ended"):
            state = self.runs.pop(run_id)
            return self._judge(event, run_id, state, state.pending) if state is not None else None
        else:
            value = payload.get(self._sources[event.kind])
            if event.kind == "action_outcome":
                value = [value, payload.get("after")]
        if isinstance(value, dict | list):
            state = None
            for address in record_addresses(value):
                state = state or self._run(run_id)
                if len(state.linked) < _MAX_ADDRESSES:
                    state.linked.setdefault(address, event.index)
        return None

    def _send(self, event: LedgerEvent, run_id: str, tool: str, recipients: list[str]) -> Signal | None:
        if not recipients:
            return None
        state = self._run(run_id)
        sent = [(event.index, tool, recipients)]
        if state.linked:
            return self._judge(event, run_id, state, sent)
        if len(state.pending) < _MAX_ADDRESSES:
            state.pending.append(sent[0])
        return None

    def _judge(
        self, event: LedgerEvent, run_id: str, state: _Run, sends: list[tuple[int, str, list[str]]]
    ) -> Signal | None:
        if not state.linked:
            return None  # nothing read in this run names an address: no judgement possible
        linked = state.linked
        strangers = sorted({a for _, _, recipients in sends for a in recipients if a not in linked})
        if not strangers:
            return None
        tools = sorted({tool for _, tool, recipients in sends if set(recipients) & set(strangers)})
        shown = [index for index, _, recipients in sends if set(recipients) & set(strangers)]
        return self.signal(
            event,
            severity="high",
            summary=f"{', '.join(repr(t) for t in tools)} to {', '.join(strangers)}, "
            "not linked to the record "
            f"(the run read {', '.join(sorted(linked)[:3])})",
            indexes=(*sorted(linked.values())[:10], *shown),
            key=f"{run_id}:{','.join(strangers)}",
            details={
                "tool": tools[0] if len(tools) == 1 else None,
                "tools": tools,
                "recipients": strangers,
                "linked": sorted(linked),
                "run_id": run_id,
            },
        )
