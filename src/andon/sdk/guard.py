"""``@a.tool``: the guard around one tool function — decide, record, run, record the outcome.

Reads are decided in-process against the cached control state and logged in the background.
Everything else is decided by the control service, durably, before the function runs; the outcome and
the undo record follow. The tool's own exceptions reach the caller unchanged; the SDK's own failures
never do — a read runs anyway, a write fails closed (or open, when the workflow says so).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from andon.control.decide import Action, decide
from andon.errors import ApprovalPending, ControlError, Denied
from andon.sdk.run import current_run
from andon.sdk.spool import jsonable

if TYPE_CHECKING:  # pragma: no cover
    from andon.control.actions import ActionDecision
    from andon.sdk.client import Andon

log = logging.getLogger("andon.sdk")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Change:
    """What an undo needs: the call's arguments, the record before and after, and what the tool returned."""

    action_id: str
    workflow: str
    tool: str
    args: dict[str, Any]
    before: Any
    after: Any
    result: Any


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A registered tool: the function, its compensating call, and how to read the record it changes."""

    workflow: str
    name: str
    fn: Callable[..., Any]
    undo: Callable[[Change], Any] | None
    state: Callable[..., Any] | None
    wait: float | None
    signature: inspect.Signature

    @property
    def undo_name(self) -> str | None:
        if self.undo is None:
            return None
        return getattr(self.undo, "__qualname__", None) or repr(self.undo)

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def record_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """The arguments that name the record: those the state reader takes (all, if it takes **kwargs)."""
        if self.state is None:
            return args
        params = inspect.signature(self.state).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return args
        return {k: v for k, v in args.items() if k in params}

    def record_key(self, args: dict[str, Any]) -> str:
        """Identifies the record a call changed, so a rollback knows which actions touch the same one."""
        reader = getattr(self.state, "__qualname__", repr(self.state))
        return f"{reader}:{json.dumps(jsonable(self.record_args(args)), sort_keys=True)}"

    def read_state(self, args: dict[str, Any]) -> Any:
        """The record as it is now, via the tool's state reader (None when it declares none)."""
        if self.state is None:
            return None
        return jsonable(self.state(**self.record_args(args)))


class Guard:
    """The decision path shared by sync and async wrappers."""

    def __init__(self, client: Andon, spec: ToolSpec) -> None:
        self.client = client
        self.spec = spec

    def effect(self) -> str | None:
        policy = self.client.state.workflows.get(self.spec.workflow)
        tool = policy.tools.get(self.spec.name) if policy is not None else None
        return tool.effect if tool is not None else None

    def decide_read(self) -> None:
        """In-process decision for a read; raises Denied. Logged in the background either way."""
        spec = self.spec
        try:
            decision = decide(self.client.state, Action(spec.workflow, spec.name), now=time.time())
        except Exception:  # the SDK's own failure: a read goes on
            log.exception("andon: read decision for %s failed; the read goes on", spec.name)
            return
        run = current_run.get()
        self.client.log(
            "decision",
            run,
            {"tool": spec.name, "effect": "read", "decision": decision.outcome, "rule": decision.rule},
            workflow=spec.workflow,
        )
        if decision.outcome != "allow":
            raise Denied(decision.reason, rule=decision.rule, fallback=decision.fallback)

    def decide_change(self, args: dict[str, Any]) -> tuple[ActionDecision | None, Any]:
        """Synchronous, durable decision for a non-read. Returns (decision, before); decision None means
        the store could not be reached and the workflow fails open."""
        from andon.control.actions import ActionRequest

        spec, client = self.spec, self.client
        run = current_run.get()
        before = None
        try:
            before = spec.read_state(args)
        except Exception:
            log.exception("andon: the state reader of %s failed; deciding without a before state", spec.name)
        request = ActionRequest(
            workflow=spec.workflow,
            tool=spec.name,
            actor=run.actor if run else client.actor,
            args=jsonable(args),
            run_id=run.id if run else None,
            confidence=run.confidence if run else None,
            before=before,
            context=jsonable(run.context()) if run else {},
            versions=client.live_refs(spec.workflow),
        )
        try:
            return client.service.decide(request), before
        except ControlError:
            raise
        except Exception as exc:
            self._unreachable(request.as_dict(), exc)
            return None, before

    def _unreachable(self, request: dict[str, Any], exc: Exception) -> None:
        client, spec = self.client, self.spec
        policy = client.state.workflows.get(spec.workflow)
        fail_closed = policy.fail_closed if policy is not None else True
        fallback = policy.fallback if policy is not None else None
        rule = "fail_closed" if fail_closed else "fail_open"
        payload = {
            "tool": spec.name,
            "decision": "deny" if fail_closed else "allow",
            "rule": rule,
            "reason": f"no decision could be had: {type(exc).__name__}: {exc}",
            "request": request,
        }
        client.delivery.spool_events(
            [
                {
                    "kind": "decision",
                    "actor": request["actor"],
                    "payload": payload,
                    "workflow": spec.workflow,
                    "run_id": request["run_id"],
                    "time": client.now().isoformat(),
                }
            ]
        )
        if fail_closed:
            raise Denied(
                f"no decision could be had for {spec.name} ({type(exc).__name__}: {exc}); failing closed",
                rule="fail_closed",
                fallback=fallback,
            ) from None
        log.warning("andon: %s runs without a decision (fail_closed: false): %s", spec.name, exc)
        return None

    def handle(self, decision: ActionDecision) -> None:
        """Raise for deny and hold; return for allow; simulate is handled by the caller."""
        if decision.outcome == "deny":
            raise Denied(decision.reason, rule=decision.rule, fallback=decision.fallback)
        if decision.outcome == "hold":
            raise ApprovalPending(decision.approval_id or "?", rule=decision.rule, reason=decision.reason)

    def finish(
        self,
        decision: ActionDecision | None,
        args: dict[str, Any],
        *,
        ok: bool,
        result: Any,
        error: str | None,
    ) -> None:
        """Record the outcome and undo record; spooled when the store is away. Never raises."""
        from andon.control.actions import ActionOutcome

        spec, client = self.spec, self.client
        run = current_run.get()
        actor = run.actor if run else client.actor
        try:
            after = spec.read_state(args) if ok else None
        except Exception:
            log.exception("andon: the state reader of %s failed after the call", spec.name)
            after = None
        if decision is None:  # ran fail-open: there is no action row to attach to
            client.log(
                "action_outcome",
                run,
                {"tool": spec.name, "ok": ok, "result": result, "error": error},
                workflow=spec.workflow,
            )
            return
        outcome = ActionOutcome(
            action_id=decision.action_id,
            ok=ok,
            actor=actor,
            result=jsonable(result),
            error=error,
            after=after,
            undo=spec.undo_name,
        )
        try:
            client.service.record_outcome(outcome)
        except Exception as exc:
            log.warning("andon: outcome of %s spooled (%s)", decision.action_id, exc)
            try:
                client.delivery.spool_outcome(outcome.as_dict())
            except Exception:
                log.exception("andon: could not spool the outcome of %s", decision.action_id)


def wrap(client: Andon, spec: ToolSpec) -> Callable[..., Any]:
    """The guarded function (sync or async, matching ``spec.fn``)."""
    guard = Guard(client, spec)

    if inspect.iscoroutinefunction(spec.fn):

        @functools.wraps(spec.fn)
        async def guarded_async(*args: Any, **kwargs: Any) -> Any:
            effect = guard.effect()
            if effect == "read":
                guard.decide_read()
                return await spec.fn(*args, **kwargs)
            bound = spec.bind(args, kwargs)
            decision, _ = await asyncio.to_thread(guard.decide_change, bound)
            run_args = await client.await_hold(guard, decision, bound)
            if decision is not None and decision.outcome == "simulate":
                return None
            try:
                result = await spec.fn(**run_args)
            except Exception as exc:
                await asyncio.to_thread(
                    guard.finish, decision, run_args, ok=False, result=None, error=repr(exc)
                )
                raise
            await asyncio.to_thread(guard.finish, decision, run_args, ok=True, result=result, error=None)
            return result

        return guarded_async

    @functools.wraps(spec.fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        effect = guard.effect()
        if effect == "read":
            guard.decide_read()
            return spec.fn(*args, **kwargs)
        bound = spec.bind(args, kwargs)
        decision, _ = guard.decide_change(bound)
        run_args = client.wait_hold(guard, decision, bound)
        if decision is not None and decision.outcome == "simulate":
            return None
        return client.execute(guard, decision, run_args)

    return guarded
