"""decide(): the pure answer to one proposed action — allow, deny, hold or simulate, with reason and rule.

No I/O and no clock: the caller passes ``now`` and, for actions that change things, the bucket levels it
read (and locked) in its transaction. The order of the checks is the order a responder would explain:
stops first (pause, permissions, switches), then autonomy, then approvals, then limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from andon.control.limits import limits_for
from andon.control.state import AUTONOMY_ORDER, FROZEN_EFFECTS, ControlState, Switch, WorkflowPolicy

Outcome = Literal["allow", "deny", "hold", "simulate"]


@dataclass(frozen=True, slots=True)
class Action:
    """One proposed call of ``tool`` (or, with ``source``, one retrieval) by a workflow."""

    workflow: str
    tool: str | None = None
    source: str | None = None  # a retrieval source id; set for retrievals instead of ``tool``
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    reason: str
    rule: str
    fallback: str | None = None
    autonomy: str | None = None  # the effective autonomy level it was decided under
    debit: tuple[str, ...] = ()  # bucket keys to take one token from (allow and hold)
    trip: str | None = None  # set when this decision trips the circuit breaker: why


def _deny(
    reason: str, rule: str, policy: WorkflowPolicy | None = None, autonomy: str | None = None
) -> Decision:
    fallback = policy.fallback if policy is not None else None
    return Decision("deny", reason, rule, fallback, autonomy)


def effective_autonomy(state: ControlState, workflow: str, now: float) -> str | None:
    """The lowest level the runbook and every active cap_autonomy switch allow."""
    policy = state.workflows.get(workflow)
    if policy is None:
        return None
    rank = AUTONOMY_ORDER.index(policy.autonomy)
    for switch in state.switches_for(workflow):
        if switch.kind == "cap_autonomy" and switch.target in AUTONOMY_ORDER and switch.active(now):
            rank = min(rank, AUTONOMY_ORDER.index(switch.target))
    return AUTONOMY_ORDER[rank]


def decide(
    state: ControlState, action: Action, *, now: float, tokens: Mapping[str, float] | None = None
) -> Decision:
    """The decision for ``action`` under ``state`` at ``now`` (POSIX seconds).

    ``tokens`` maps bucket keys (see ``limits.limits_for``) to the tokens available now; when it is None
    limits are not checked (reads, and callers that only want a preview).
    """
    policy = state.workflows.get(action.workflow)
    if policy is None:
        return _deny(f"workflow '{action.workflow}' is not in the applied runbook", "unknown_workflow")
    switches = state.switches_for(action.workflow)
    for switch in switches:
        if switch.kind == "pause_workflow" and switch.active(now):
            return _deny(f"workflow '{policy.id}' is paused ({switch.describe()})", "paused", policy)

    if action.tool is None:
        return _decide_retrieval(policy, action, switches, now)

    tool = policy.tools.get(action.tool)
    if tool is None:
        return _deny(
            f"tool '{action.tool}' is not declared for workflow '{policy.id}' (unauthorised tool use)",
            "unauthorised_tool",
            policy,
        )
    for switch in switches:
        if not switch.active(now):
            continue
        kind = switch.kind
        if kind == "block_tool" and switch.target == tool.name:
            return _deny(f"tool '{tool.name}' is blocked ({switch.describe()})", "tool_blocked", policy)
        if kind == "revoke_credential" and tool.credential is not None and switch.target == tool.credential:
            return _deny(
                f"credential '{tool.credential}' is revoked ({switch.describe()})",
                "credential_revoked",
                policy,
            )
        if tool.effect == "read":
            continue
        if kind == "freeze_writes" and tool.effect in FROZEN_EFFECTS:
            return _deny(f"writes are frozen ({switch.describe()})", "writes_frozen", policy)
        if kind == "block_external_sends" and tool.external:
            return _deny(
                f"external sends are blocked ({switch.describe()})", "external_sends_blocked", policy
            )
    if tool.effect == "read":
        return Decision("allow", "read", "read")

    autonomy = effective_autonomy(state, policy.id, now) or policy.autonomy
    if autonomy == "observe":
        return Decision("simulate", "observe mode: logged, not run", "autonomy:observe", None, autonomy)
    if autonomy == "advise":
        return _deny("advice only: the output is a draft for a person", "autonomy:advise", policy, autonomy)

    outcome: Outcome = "allow"
    reason, rule = f"{tool.effect} allowed at autonomy {autonomy}", f"autonomy:{autonomy}"
    threshold = policy.confidence_threshold
    if autonomy == "act_with_approval":
        outcome, reason = "hold", f"{tool.effect} needs approval at autonomy act_with_approval"
    elif tool.approval == "always":
        outcome, reason, rule = "hold", f"tool '{tool.name}' always needs approval", "approval:always"
    elif threshold is not None and action.confidence is not None and action.confidence < threshold:
        outcome, rule = "hold", "confidence_below_threshold"
        reason = f"confidence {action.confidence:.2f} is below the threshold {threshold:.2f}"
    elif tool.approval == "below_confidence" and action.confidence is None:
        outcome, rule = "hold", "approval:below_confidence"
        reason = "no confidence given for a tool that needs approval below the confidence threshold"

    debit: list[str] = []
    if tokens is not None:
        for limit in limits_for(policy, tool.name):
            if tokens.get(limit.key, float(limit.rate.count)) < 1.0:
                if limit.kind == "burst":
                    why = f"burst of more than {limit.rate} actions"
                    return Decision(
                        "deny",
                        f"circuit breaker: {why}",
                        "circuit_breaker",
                        policy.fallback,
                        autonomy,
                        (),
                        why,
                    )
                scope = "tool" if limit.key.count(":") == 2 else "workflow"
                return _deny(f"{scope} rate limit {limit.rate} reached", "rate_limit", policy, autonomy)
            debit.append(limit.key)
    return Decision(outcome, reason, rule, None, autonomy, tuple(debit))


def _decide_retrieval(
    policy: WorkflowPolicy, action: Action, switches: tuple[Switch, ...], now: float
) -> Decision:
    source = action.source or ""
    if policy.retrieval_sources and source not in policy.retrieval_sources:
        return _deny(
            f"retrieval source '{source}' is not declared for workflow '{policy.id}'",
            "unauthorised_retrieval_source",
            policy,
        )
    for switch in switches:
        if switch.kind == "block_retrieval_source" and switch.target == source and switch.active(now):
            return _deny(
                f"retrieval source '{source}' is blocked ({switch.describe()})",
                "retrieval_source_blocked",
                policy,
            )
    return Decision("allow", "read", "read")
