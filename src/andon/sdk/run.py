"""A run: one unit of an agent's work (a ticket, a request), whose events share a run id.

Inside ``with a.run(...) as run`` every guarded tool call belongs to the run: its input, what was
retrieved, what the model said and how confident it was travel with the action to the decision and,
when held, to the person who approves it.
"""

from __future__ import annotations

import contextvars
import uuid
from types import TracebackType
from typing import TYPE_CHECKING, Any

from andon.errors import Denied

if TYPE_CHECKING:  # pragma: no cover
    from andon.sdk.client import Andon

current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("andon_run", default=None)

_CONTEXT_DOCS = 20  # documents per retrieval kept in an approval's context


class Run:
    """The context of one unit of work; use ``Andon.run`` to make one."""

    def __init__(
        self, client: Andon, workflow: str, *, actor: str, input: Any = None, run_id: str | None = None
    ):
        self.client = client
        self.workflow = workflow
        self.actor = actor
        self.input = input
        self.id = run_id or f"run-{uuid.uuid4().hex[:20]}"
        self.retrievals: list[dict[str, Any]] = []
        self.output: Any = None
        self.confidence: float | None = None
        self.versions: dict[str, str] = {}
        self._token: contextvars.Token[Run | None] | None = None

    # -- what happens during the run ---------------------------------------------------------------
    def retrieval(self, *, source: str, query: Any = None, documents: Any = None) -> None:
        """Log what was retrieved (batched). Raises Denied when the source is blocked or undeclared."""
        decision = self.client.decide_retrieval(self.workflow, source)
        if decision is not None and decision.outcome == "deny":
            self.client.log(
                "decision",
                self,
                {
                    "tool": None,
                    "source": source,
                    "decision": "deny",
                    "rule": decision.rule,
                    "reason": decision.reason,
                },
            )
            raise Denied(decision.reason, rule=decision.rule, fallback=decision.fallback)
        self.client.log("retrieval", self, {"source": source, "query": query, "documents": documents})
        docs = documents if isinstance(documents, list) else [documents]
        self.retrievals.append({"source": source, "query": query, "documents": docs[:_CONTEXT_DOCS]})

    def model_call(
        self,
        *,
        model: str | None = None,
        output: Any = None,
        confidence: float | None = None,
        prompt_version: str | None = None,
        input: Any = None,
    ) -> None:
        """Log one model call (batched) with the versions that produced it; later tool calls carry its
        output and confidence. Without ``prompt_version`` the workflow's live versions are recorded."""
        live = self.client.live_refs(self.workflow)
        versions = dict(live)
        if prompt_version is not None:
            versions["prompt"] = prompt_version
        self.versions = versions
        self.output = output
        self.confidence = confidence
        self.client.log(
            "model_call",
            self,
            {
                "prompt_version": prompt_version
                or next((v for k, v in live.items() if k.startswith("prompt:")), None),
                "model": model or live.get("model") or self.client.declared_model(self.workflow),
                "input": input,
                "output": output,
                "confidence": confidence,
                "versions": versions,
            },
        )

    def context(self) -> dict[str, Any]:
        """What an approver sees besides the call itself."""
        return {
            "input": self.input,
            "retrievals": self.retrievals,
            "model_output": self.output,
            "run_id": self.id,
        }

    # -- context manager ---------------------------------------------------------------------------
    def __enter__(self) -> Run:
        self._token = current_run.set(self)
        self.client.log("note", self, {"text": "run started", "input": self.input})
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ended = "run ended" if exc is None else f"run ended with {type(exc).__name__}: {exc}"
        self.client.log("note", self, {"text": ended})
        if self._token is not None:
            current_run.reset(self._token)
            self._token = None

    async def __aenter__(self) -> Run:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)
