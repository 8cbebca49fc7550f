"""The compiled control state: per-workflow policy built from a runbook ``Workflow``, plus active switches.

``decide()`` runs on every guarded call, so everything it needs is precomputed here into small frozen
objects: dictionaries keyed by tool name, switches indexed by workflow, times as POSIX seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from andon.runbook.schema import Runbook, Workflow

# Kept here rather than imported so decide() does not pull pydantic into an agent's hot path.
AUTONOMY_ORDER: tuple[str, ...] = ("observe", "advise", "act_with_approval", "autonomous")
CHANGING_EFFECTS = frozenset({"write", "send", "delete", "spend"})
FROZEN_EFFECTS = frozenset({"write", "delete", "spend"})  # what freeze_writes stops
SWITCH_KINDS: tuple[str, ...] = (
    "pause_workflow",
    "freeze_writes",
    "block_tool",
    "block_external_sends",
    "block_retrieval_source",
    "revoke_credential",
    "cap_autonomy",
)
# Switches that name something inside the workflow; the target is required for these.
TARGETED_KINDS = frozenset({"block_tool", "block_retrieval_source", "revoke_credential", "cap_autonomy"})


@dataclass(frozen=True, slots=True)
class RateSpec:
    """``count`` actions per ``per_seconds``: a token bucket of that capacity refilling evenly."""

    count: int
    per_seconds: float

    @property
    def per_second(self) -> float:
        return self.count / self.per_seconds

    def __str__(self) -> str:
        return f"{self.count}/{self.per_seconds:g}s"


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    name: str
    effect: str
    external: bool = False
    approval: str = "never"  # never | always | below_confidence
    credential: str | None = None
    undo: str | None = None
    rate: RateSpec | None = None

    @property
    def changes_things(self) -> bool:
        return self.effect in CHANGING_EFFECTS

    @property
    def reversible(self) -> bool:
        return self.effect == "read" or self.undo is not None


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """Trip on an error rate over a window, on N consecutive failures, or on a burst of actions."""

    error_rate: float | None = None
    window_seconds: float | None = None
    min_calls: int = 1
    consecutive_failures: int | None = None
    burst: RateSpec | None = None


@dataclass(frozen=True, slots=True)
class WorkflowPolicy:
    id: str
    autonomy: str
    tools: Mapping[str, ToolPolicy]
    confidence_threshold: float | None = None
    fallback: str | None = None
    fail_closed: bool = True
    rate: RateSpec | None = None
    breaker: BreakerPolicy | None = None
    retrieval_sources: frozenset[str] = frozenset()
    credentials: frozenset[str] = frozenset()
    prompts: Mapping[str, str] = field(default_factory=dict)  # prompt id -> version declared in runbook
    model: str | None = None
    approvers: tuple[str, ...] = ()

    @classmethod
    def from_workflow(cls, workflow: Workflow) -> WorkflowPolicy:
        """Compile one runbook workflow into the shape decide() reads."""
        limits = workflow.limits
        tools: dict[str, ToolPolicy] = {}
        for tool in workflow.tools:
            rate = workflow.rate_limit(tool.name)
            tools[tool.name] = ToolPolicy(
                name=tool.name,
                effect=tool.effect,
                external=tool.external,
                approval=tool.approval,
                credential=tool.credential,
                undo=tool.undo,
                rate=RateSpec(rate.count, rate.per.total_seconds()) if rate else None,
            )
        breaker = None
        cb = limits.circuit_breaker
        if cb is not None:
            breaker = BreakerPolicy(
                error_rate=cb.error_rate,
                window_seconds=cb.window.total_seconds() if cb.window else None,
                min_calls=cb.min_calls or 1,
                consecutive_failures=cb.consecutive_failures,
                burst=RateSpec(cb.burst.count, cb.burst.per.total_seconds()) if cb.burst else None,
            )
        fallback = None
        if workflow.fallback is not None:
            fallback = f"{workflow.fallback.queue} (contact: {workflow.fallback.contact})"
        wf_rate = limits.rate.workflow
        model = workflow.model
        return cls(
            id=workflow.id,
            autonomy=workflow.autonomy,
            tools=tools,
            confidence_threshold=limits.confidence_threshold,
            fallback=fallback,
            fail_closed=workflow.fail_closed,
            rate=RateSpec(wf_rate.count, wf_rate.per.total_seconds()) if wf_rate else None,
            breaker=breaker,
            retrieval_sources=frozenset(s.id for s in workflow.retrieval_sources),
            credentials=frozenset(c.id for c in workflow.credentials),
            prompts={p.id: p.version for p in workflow.prompts},
            model=f"{model.provider}/{model.name}" + (f"@{model.version}" if model.version else ""),
            approvers=tuple(workflow.approvers),
        )


@dataclass(frozen=True, slots=True)
class Switch:
    """One active (or expired) stop: who pulled it, why, until when. ``workflow`` None means every one."""

    id: str
    kind: str
    workflow: str | None
    target: str | None
    actor: str
    reason: str
    created_at: datetime
    expires_at: datetime | None = None
    expires_ts: float | None = None  # expires_at as POSIX seconds, for decide()

    def active(self, now: float) -> bool:
        return self.expires_ts is None or now < self.expires_ts

    def describe(self) -> str:
        what = self.kind if self.target is None else f"{self.kind} {self.target}"
        return f"{what} by {self.actor}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "workflow": self.workflow,
            "target": self.target,
            "actor": self.actor,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Switch:
        created = datetime.fromisoformat(data["created_at"])
        expires = datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None
        return cls(
            id=data["id"],
            kind=data["kind"],
            workflow=data.get("workflow"),
            target=data.get("target"),
            actor=data["actor"],
            reason=data["reason"],
            created_at=created,
            expires_at=expires,
            expires_ts=expires.timestamp() if expires else None,
        )


@dataclass(frozen=True, slots=True)
class ControlState:
    """Everything decide() reads: compiled workflows and the switches in force, as of ``epoch``."""

    workflows: Mapping[str, WorkflowPolicy]
    switches: tuple[Switch, ...] = ()
    revision: int | None = None  # the runbook revision the workflows were compiled from
    epoch: int = 0  # bumped by every control change; lets clients tell a stale copy
    document: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)  # the runbook
    _by_workflow: Mapping[str | None, tuple[Switch, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str | None, list[Switch]] = {}
        for switch in self.switches:
            index.setdefault(switch.workflow, []).append(switch)
        object.__setattr__(self, "_by_workflow", {k: tuple(v) for k, v in index.items()})

    def switches_for(self, workflow: str) -> tuple[Switch, ...]:
        """Switches that apply to ``workflow``: its own plus those for every workflow."""
        own = self._by_workflow.get(workflow, ())
        everywhere = self._by_workflow.get(None, ())
        return own + everywhere if everywhere else own

    @classmethod
    def from_runbook(
        cls, runbook: Runbook | None, *, switches: Iterable[Switch] = (), revision: int | None, epoch: int
    ) -> ControlState:
        workflows = (
            {} if runbook is None else {w.id: WorkflowPolicy.from_workflow(w) for w in runbook.workflows}
        )
        return cls(workflows=workflows, switches=tuple(switches), revision=revision, epoch=epoch)


def compile_document(document: Mapping[str, Any]) -> Mapping[str, WorkflowPolicy]:
    """Policies of every workflow in a stored runbook document (``Runbook.to_document()`` output)."""
    from andon.runbook.schema import Runbook

    runbook = Runbook.from_document(dict(document))
    return {w.id: WorkflowPolicy.from_workflow(w) for w in runbook.workflows}
