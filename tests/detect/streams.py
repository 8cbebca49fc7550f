"""Building event streams for detector tests: events with indexes and times, as the ledger holds them."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from andon.detect import Observed

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class Stream:
    """Events of one workflow, numbered from 0 and spaced ``step`` seconds apart unless told otherwise."""

    def __init__(self, workflow: str = "refund-agent", *, step: float = 1.0) -> None:
        self.workflow = workflow
        self.step = step
        self.events: list[Observed] = []
        self.clock = START
        self._ids = itertools.count()

    def add(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        run_id: str | None = None,
        actor: str = "svc-agent",
        after: float | None = None,
        workflow: str | None = None,
    ) -> Observed:
        self.clock += timedelta(seconds=self.step if after is None else after)
        event = Observed(
            len(self.events), kind, actor, workflow or self.workflow, run_id, self.clock, payload
        )
        self.events.append(event)
        return event

    def decision(
        self,
        tool: str,
        args: dict[str, Any] | None = None,
        *,
        effect: str = "write",
        decision: str = "allow",
        rule: str = "autonomy:autonomous",
        run_id: str | None = None,
        after: float | None = None,
    ) -> str:
        action_id = f"act-{next(self._ids)}"
        self.add(
            "decision",
            {
                "action_id": action_id,
                "tool": tool,
                "effect": effect,
                "decision": decision,
                "rule": rule,
                "args": args if args is not None else {},
            },
            run_id=run_id,
            after=after,
        )
        return action_id

    def outcome(self, action_id: str, tool: str, *, ok: bool = True, after: float | None = None) -> None:
        self.add(
            "action_outcome",
            {"action_id": action_id, "tool": tool, "ok": ok, "result": None, "error": None if ok else "boom"},
            after=after,
        )

    def model_call(
        self,
        output: Any,
        *,
        confidence: float | None = 0.9,
        prompt_version: str = "prompt:triage-system@v12",
        input: Any = None,
        run_id: str | None = None,
        after: float | None = None,
    ) -> None:
        self.add(
            "model_call",
            {
                "prompt_version": prompt_version,
                "model": "gpt-4.1-mini",
                "input": input,
                "output": output,
                "confidence": confidence,
            },
            run_id=run_id,
            after=after,
        )
