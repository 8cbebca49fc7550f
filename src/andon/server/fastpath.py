"""The hot path of ``POST /v1/decisions``, answered in front of FastAPI for the common case.

An agent asks for a write decision before every write, so this one request decides the server's
throughput. Through FastAPI it spent more CPU on the framework — its middleware stack (error and
telemetry wrappers, two body limits, our timer and headers, each wrapping ``send``), routing,
dependency resolution, response encoding — than on the decision itself. ``DecisionFastPath`` sits in
front of all of it (``AndonApp.__call__``) and answers the common case directly: a body of a declared
length within the size limit, a bearer key verified a moment ago (in the key cache, see
``keycache``), allowed through the ``agent`` gate, a body that validates as the route's
``DecisionIn``, a workflow in the key's scope. It hands the request to the same ``DecisionWriter``
and answers only after the commit, exactly as the route does, with the security headers every answer
carries, and records the request in the same metrics as the request timer and the route.

Everything else — no or too large a ``Content-Length``, an unknown or uncached key, a console
session, a bad body, a workflow out of scope, a decision that raised — goes on to the full app (its
middleware, then the route) with the body replayed, so every error answer stays the one error body of
``errors``. A decision that raised was rolled back by the writer (nothing of it stands), so the route
deciding it again is safe; it raises again and answers with the error. The one exception is a writer
process that died before answering: the route's attempt goes to a new writer and is answered, and a
decision the dead one may have committed stays in the store as decided and never run.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from andon.control.actions import ActionRequest
from andon.server.auth import cached_principal
from andon.server.headers import COMMON
from andon.server.limits import replaying
from andon.server.principals import role_allows
from andon.server.routers.control import DecisionIn  # the route's own body model

PATH = "/v1/decisions"
_HEADERS = [(b"content-type", b"application/json"), *COMMON]


class DecisionFastPath:
    """ASGI app in front of ``app``: answers cached-key, valid, in-scope decision requests itself."""

    def __init__(self, app: ASGIApp, *, state: Any, max_body_bytes: int) -> None:
        self.app = app  # the full app: middleware stack, routing, the route
        self.state = state  # the FastAPI app's state: key_cache, decisions, metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        principal = self._cached_agent(scope)
        if principal is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        answer = await self._decide(principal, body)
        if answer is None:
            await self.app(scope, replaying(body, receive), send)
            return
        payload = json.dumps(answer, separators=(",", ":")).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_HEADERS, (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        seconds = time.perf_counter() - started
        self.state.metrics.http_request(method="POST", route=PATH, status=200, seconds=seconds)

    def _cached_agent(self, scope: Scope) -> Any:
        """The principal of a bearer key verified a moment ago that may ask for decisions, else None.

        None too when the body's length is not declared, or is over the limit: the full app's size
        limit answers those (a declared length bounds what the server reads)."""
        authorization = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
        if length is None or not length.isdigit() or int(length) > self.max_body_bytes:
            return None
        if authorization is None or authorization[:7].lower() != b"bearer ":
            return None
        presented = authorization[7:].strip().decode("latin-1")
        _, principal = cached_principal(self.state.key_cache, self.state.engine, presented)
        if principal is None or not role_allows(principal.role, "agent"):
            return None
        return principal

    async def _decide(self, principal: Any, body: bytes) -> dict[str, Any] | None:
        """The committed decision as the route answers it, or None to leave the request to the route."""
        try:
            request = DecisionIn.model_validate_json(body)
        except ValidationError:
            return None
        if not principal.may_touch(request.workflow):
            return None
        started = time.perf_counter()
        try:
            decision = await self.state.decisions.decide(ActionRequest(**request.model_dump()))
        except Exception:  # rolled back by the writer; the route decides again and answers the error
            return None
        seconds = time.perf_counter() - started
        self.state.metrics.decision(workflow=request.workflow, outcome=decision.outcome, seconds=seconds)
        answer: dict[str, Any] = decision.as_dict()
        return answer


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
