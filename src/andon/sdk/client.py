"""``Andon``: the SDK's one entry point, in two modes with one API.

``Andon.local(path)`` runs the control plane in-process on an embedded SQLite file (or any store URL);
``Andon.connect(url, token=...)`` talks to ``andon serve`` over the JSON API in ``docs/api.md``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from andon.control.decide import Action, Decision, decide
from andon.control.state import ControlState
from andon.errors import ApprovalPending, ControlError
from andon.sdk.delivery import Delivery
from andon.sdk.guard import Change, Guard, ToolSpec, wrap
from andon.sdk.run import Run
from andon.sdk.spool import Spool

if TYPE_CHECKING:  # pragma: no cover
    from andon.control.actions import ActionDecision
    from andon.control.service import ControlService
    from andon.control.versions import Version
    from andon.ledger.checkpoint import Checkpointer
    from andon.sdk.stream import StateStream
    from andon.sdk.undo import RollbackReport

log = logging.getLogger("andon.sdk")
APPROVAL_POLL_SECONDS = 0.2
# While the control stream is connected it brings every change; polling is then only a safety net.
# (Fifty agents polling every second were fifty requests a second to the server for nothing.)
STREAMING_POLL_SECONDS = 15.0


class Andon:
    """Guards an agent's tools and logs its runs; see ``Andon.local`` and ``Andon.connect``."""

    def __init__(
        self,
        service: ControlService,
        *,
        spool_dir: str | Path,
        actor: str = "agent",
        refresh_interval: float = 0.25,
        flush_interval: float = 0.05,
        retry_interval: float = 2.0,
    ) -> None:
        self.service = service
        self.actor = actor
        self.tools: dict[tuple[str, str], ToolSpec] = {}
        self.spool = Spool(spool_dir)
        self.delivery = Delivery(
            service, self.spool, flush_interval=flush_interval, retry_interval=retry_interval
        )
        self.refresh_interval = refresh_interval
        self.state = ControlState(workflows={})
        self._seen: tuple[int, int | None] | None = None
        self._live: dict[str, dict[str, Any]] = {}
        self._stop = threading.Event()
        # Held while a new copy of the state is fetched and put in place, so the poll and the control
        # stream (connect mode) never put an older copy over a newer one.
        self._state_lock = threading.Lock()
        self._stream: StateStream | None = None
        self._document_json: tuple[Any, str] = (None, "")  # (a runbook document, it as JSON)
        self._checkpointer: Checkpointer | None = None
        if not self.refresh():
            self._load_saved_state()
        self._refresher = threading.Thread(target=self._refresh_loop, name="andon-refresh", daemon=True)
        self._refresher.start()

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def local(
        cls,
        path: str | Path | None = None,
        *,
        schema: str | None = None,
        actor: str = "agent",
        spool_dir: str | Path | None = None,
        lock_timeout: float = 2.0,
        refresh_interval: float = 0.25,
        checkpoint_interval: float | None = 1.0,
    ) -> Andon:
        """In-process control plane on a store.

        ``path`` is a SQLite file or a database URL (``schema`` for PostgreSQL); by default the CLI's
        store ($ANDON_DATABASE_URL, else andon.db under $ANDON_DATA_DIR, default ./.andon). A write waits
        at most ``lock_timeout`` seconds for a locked store, then fails closed. The process signs a
        ledger checkpoint every ``checkpoint_interval`` seconds while events arrive (None: never), with
        the ledger key of the data directory ($ANDON_DATA_DIR, default ./.andon)."""
        from andon.control.service import StoreControl
        from andon.sdk.localstore import file_guard, limit_lock_waits
        from andon.store import create_engine, database_url, migrate

        text = str(path) if path is not None else database_url()
        if text.startswith("sqlite:///"):
            text = text.removeprefix("sqlite:///")
        url = text if "://" in text else f"sqlite:///{text}"
        engine = create_engine(url, schema=schema)
        migrate(engine)
        limit_lock_waits(engine, lock_timeout)
        precheck = file_guard(engine, Path(text)) if "://" not in text else None
        service = StoreControl(engine, precheck=precheck)
        default_spool = (Path(text).parent if "://" not in text else Path(".andon")) / "spool"
        client = cls(
            service, spool_dir=spool_dir or default_spool, actor=actor, refresh_interval=refresh_interval
        )
        if checkpoint_interval:
            # No server signs for an embedded store, so the agent process does, while events arrive.
            from andon.ledger.checkpoint import Checkpointer
            from andon.ledger.keys import signing_key

            # The data directory's key, as the CLI, the server and the redactor use: one ledger, one key.
            client._checkpointer = Checkpointer(
                engine, signer=signing_key(), interval=checkpoint_interval
            ).start()
        return client

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        token: str,
        actor: str = "agent",
        spool_dir: str | Path | None = None,
        timeout: float = 5.0,
        refresh_interval: float = 1.0,
        stream: bool = True,
    ) -> Andon:
        """HTTP client of ``andon serve`` at ``url`` (e.g. ``http://127.0.0.1:8600``).

        With ``stream`` (the default) it follows the server's control stream, so a pause reaches this
        process as soon as the server sees it; polling every ``refresh_interval`` stays as the fallback
        (every ``STREAMING_POLL_SECONDS`` while the stream is connected)."""
        from andon.sdk.http import HttpControl
        from andon.sdk.stream import StateStream

        service = HttpControl(url, token=token, timeout=timeout)
        client = cls(
            service,
            spool_dir=spool_dir or Path(".andon") / "spool",
            actor=actor,
            refresh_interval=refresh_interval,
        )
        if stream:
            client._stream = StateStream(
                scheme=service.scheme,
                host=service.host,
                port=service.port,
                path=service.prefix + "/v1/stream",
                token=token,
                on_event=client._streamed,
            )
        return client

    # -- the control state copy --------------------------------------------------------------------
    def refresh(self) -> bool:
        """Reload the control state if it changed; False when the store could not be reached."""
        try:
            with self._state_lock:
                seen = self.service.epoch()
                if seen != self._seen:
                    self.state = self.service.state()
                    self._live = {}
                    self._seen = seen
                    self._save_state()
            return True
        except Exception as exc:
            log.debug("andon: control state not refreshed (%s); keeping the last copy", exc)
            return False

    def _streamed(self, data: dict[str, Any]) -> None:
        """A control stream event: the switches in force as of an epoch (connect mode)."""
        from andon.control.state import Switch

        seen = (int(data["epoch"]), data.get("revision"))
        if seen[1] != self.state.revision or "switches" not in data:
            self.refresh()  # a new runbook revision: reload the whole state
            return
        with self._state_lock:
            if seen == self._seen:
                return
            self.state = ControlState(
                workflows=self.state.workflows,
                switches=tuple(Switch.from_dict(s) for s in data["switches"]),
                revision=seen[1],
                epoch=seen[0],
                document=self.state.document,
            )
            self._live = {}
            self._seen = seen
            self._save_state()

    # The last state seen is kept beside the spool, so an agent restarted while the store is away still
    # knows its tools: reads go on, writes fail closed (or open) as the workflow says.
    def _save_state(self) -> None:
        state = self.state
        if state.document is None:
            return
        try:
            # The runbook document is written as it was serialised for its revision: a pause changes
            # only the switches, and re-encoding the whole runbook on every one held up the stream.
            if self._document_json[0] is not state.document:
                self._document_json = (state.document, json.dumps(state.document, default=str))
            head = {
                "revision": state.revision,
                "epoch": state.epoch,
                "switches": [s.as_dict() for s in state.switches],
            }
            text = json.dumps(head, default=str)[:-1] + ', "runbook": ' + self._document_json[1] + "}"
            tmp = self.spool.directory / ".state.json.tmp"
            tmp.write_text(text)
            os.replace(tmp, self.spool.directory.parent / f"{self.spool.directory.name}.state.json")
        except Exception:
            log.exception("andon: could not save the control state copy")

    def _load_saved_state(self) -> None:
        from andon.control.state import Switch, compile_document

        path = self.spool.directory.parent / f"{self.spool.directory.name}.state.json"
        try:
            data = json.loads(path.read_text())
            self.state = ControlState(
                workflows=compile_document(data["runbook"]),
                switches=tuple(Switch.from_dict(s) for s in data["switches"]),
                revision=data["revision"],
                epoch=data["epoch"],
                document=data["runbook"],
            )
            log.warning("andon: store unreachable at start; using the control state saved at %s", path)
        except FileNotFoundError:
            log.warning("andon: store unreachable at start and no saved control state; writes fail closed")
        except Exception:
            log.exception("andon: the saved control state at %s could not be read", path)

    def _refresh_loop(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(self.refresh_interval):
            stream = self._stream
            streaming = stream is not None and stream.connected.is_set()
            if streaming and time.monotonic() - last < STREAMING_POLL_SECONDS:
                continue
            self.refresh()
            last = time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    # -- tools and runs ----------------------------------------------------------------------------
    def tool(
        self,
        workflow: str,
        name: str,
        *,
        undo: Callable[[Change], Any] | None = None,
        state: Callable[..., Any] | None = None,
        wait: float | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Guard a tool function of ``workflow``. ``undo`` compensates one call (it gets a ``Change``);
        ``state`` reads the record the call changes, with the call's own arguments (before/after, conflicts);
        ``wait`` seconds to wait for a held action's approval instead of raising ``ApprovalPending``."""

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            spec = ToolSpec(workflow, name, fn, undo, state, wait, inspect.signature(fn))
            self.tools[(workflow, name)] = spec
            return wrap(self, spec)

        return register

    def run(
        self, workflow: str, *, actor: str | None = None, input: Any = None, run_id: str | None = None
    ) -> Run:
        """A run of ``workflow`` (``with`` or ``async with``): its events and actions share a run id."""
        return Run(self, workflow, actor=actor or self.actor, input=input, run_id=run_id)

    def log(
        self, kind: str, run: Run | None, payload: dict[str, Any], *, workflow: str | None = None
    ) -> None:
        """Queue one event for background delivery; never raises."""
        try:
            self.delivery.put(
                kind,
                run.actor if run else self.actor,
                payload,
                workflow or (run.workflow if run else None),
                run.id if run else None,
            )
        except Exception:
            log.exception("andon: could not queue a %s event", kind)

    def decide_retrieval(self, workflow: str, source: str) -> Decision | None:
        try:
            return decide(self.state, Action(workflow, source=source), now=time.time())
        except Exception:
            log.exception("andon: retrieval decision failed; letting the read continue")
            return None

    # -- versions ----------------------------------------------------------------------------------
    def _live_versions(self, workflow: str) -> dict[str, Any]:
        cached = self._live.get(workflow)
        if cached is None:
            cached = {
                f"{v.kind}:{v.name}": v for v in self.service.list_versions(workflow=workflow) if v.live
            }
            self._live[workflow] = cached
        return cached

    def live(self, workflow: str, kind: str, name: str) -> Version | None:
        """The live version of a prompt / model / ruleset, or None if none was published."""
        try:
            found: Version | None = self._live_versions(workflow).get(f"{kind}:{name}")
            return found
        except Exception as exc:
            log.warning("andon: live version of %s:%s unknown (%s)", kind, name, exc)
            return None

    def prompt(self, workflow: str, name: str) -> Any:
        """The content of the live version of prompt ``name`` (None if none was published)."""
        version = self.live(workflow, "prompt", name)
        return version.content if version is not None else None

    def live_refs(self, workflow: str) -> dict[str, str]:
        """``{"prompt:triage-system": "prompt:triage-system@v4", "model": ...}`` as the workflow runs now."""
        policy = self.state.workflows.get(workflow)
        refs: dict[str, str] = {}
        if policy is not None:
            refs.update({f"prompt:{p}": f"prompt:{p}@{v}" for p, v in policy.prompts.items()})
            if policy.model:
                refs["model"] = policy.model
        try:
            for key, version in self._live_versions(workflow).items():
                refs[key] = version.ref
        except Exception as exc:
            log.debug("andon: live versions unavailable (%s); recording the runbook's", exc)
        return refs

    def declared_model(self, workflow: str) -> str | None:
        policy = self.state.workflows.get(workflow)
        return policy.model if policy is not None else None

    # -- approvals ---------------------------------------------------------------------------------
    def _settle(self, approval_id: str, deadline: float) -> dict[str, Any]:
        """Claim an approved action's arguments, polling until ``deadline``; raises as claim does."""
        while True:
            try:
                return self.service.claim_approval(approval_id, actor=self.actor).effective_args
            except ApprovalPending:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(APPROVAL_POLL_SECONDS)

    def wait_hold(
        self, guard: Guard, decision: ActionDecision | None, args: dict[str, Any]
    ) -> dict[str, Any]:
        """For a held decision: wait (if the tool says so) and return the approved arguments, or raise."""
        if decision is None or decision.outcome != "hold":
            if decision is not None:
                guard.handle(decision)
            return args
        if guard.spec.wait is None:
            guard.handle(decision)
        return self._settle(decision.approval_id or "", time.monotonic() + (guard.spec.wait or 0.0))

    async def await_hold(
        self, guard: Guard, decision: ActionDecision | None, args: dict[str, Any]
    ) -> dict[str, Any]:
        if decision is None or decision.outcome != "hold" or guard.spec.wait is None:
            return self.wait_hold(guard, decision, args)
        deadline = time.monotonic() + guard.spec.wait
        while True:
            try:
                approval = await asyncio.to_thread(
                    self.service.claim_approval, decision.approval_id or "", actor=self.actor
                )
                return approval.effective_args
            except ApprovalPending:
                if time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(APPROVAL_POLL_SECONDS)

    def execute(self, guard: Guard, decision: ActionDecision | None, args: dict[str, Any]) -> Any:
        """Run the tool after an allow, then record the outcome; the tool's exception propagates."""
        try:
            result = guard.spec.fn(**args)
        except Exception as exc:
            guard.finish(decision, args, ok=False, result=None, error=repr(exc))
            raise
        guard.finish(decision, args, ok=True, result=result, error=None)
        return result

    def _resumed(
        self, approval_id: str, *, wait: float | None
    ) -> tuple[Guard, ActionDecision, dict[str, Any]]:
        from andon.control.actions import ActionDecision

        approval = self.service.get_approval(approval_id)
        spec = self.tools.get((approval.workflow, approval.tool))
        if spec is None:
            raise ControlError(
                f"approval {approval_id} is for {approval.workflow}/{approval.tool}, "
                "which is not registered with @tool in this process"
            )
        args = self._settle(approval_id, time.monotonic() + (wait or 0.0))
        decision = ActionDecision(
            action_id=approval.action_id,
            outcome="allow",
            reason="approved",
            rule=approval.rule,
            approval_id=approval_id,
        )
        return Guard(self, spec), decision, args

    def resume(self, approval_id: str, *, wait: float | None = None) -> Any:
        """Run a held action once it is approved (with the approver's edits); raises ApprovalPending while
        it waits (after ``wait`` seconds), Denied if it was rejected or expired."""
        guard, decision, args = self._resumed(approval_id, wait=wait)
        return self.execute(guard, decision, args)

    async def aresume(self, approval_id: str, *, wait: float | None = None) -> Any:
        """``resume`` for async tools."""
        guard, decision, args = await asyncio.to_thread(self._resumed, approval_id, wait=wait)
        try:
            result = guard.spec.fn(**args)
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:
            await asyncio.to_thread(guard.finish, decision, args, ok=False, result=None, error=repr(exc))
            raise
        await asyncio.to_thread(guard.finish, decision, args, ok=True, result=result, error=None)
        return result

    # -- rollback ----------------------------------------------------------------------------------
    def rollback(
        self,
        *,
        workflow: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        version: str | None = None,
        run_id: str | None = None,
        actor: str | None = None,
        reason: str = "rollback",
        dry_run: bool = True,
        progress: bool = False,
    ) -> RollbackReport:
        """Undo the executed actions selected, newest first, with the undos registered here (dry run
        by default). Conflicts (the record changed since) are reported, never overwritten."""
        from andon.control.rollback import Selection
        from andon.sdk.undo import run_rollback

        selection = Selection(workflow=workflow, since=since, until=until, version=version, run_id=run_id)
        return run_rollback(
            self, selection, actor=actor or self.actor, reason=reason, dry_run=dry_run, progress=progress
        )

    # -- lifecycle ---------------------------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Send queued events now (or spool them); True when done within ``timeout``."""
        return self.delivery.flush(timeout)

    def deliver_spool(self) -> int:
        """Try to deliver spooled events and outcomes now; returns how many entries went."""
        return self.delivery.retry_spool()

    def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            try:
                self._checkpointer.stop(final=True)
            except Exception as exc:  # closing must never crash the host agent
                log.warning("andon: last checkpoint not signed (%s)", exc)
        if self._stream is not None:
            self._stream.close()
        self.delivery.close()
        self._refresher.join(timeout=2)

    def __enter__(self) -> Andon:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


__all__ = ["Andon", "Change"]
