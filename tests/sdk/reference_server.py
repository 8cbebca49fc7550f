"""A minimal HTTP server for the /v1 control API of docs/api.md, over StoreControl (tests only).

It exists so connect mode is tested over real HTTP before `andon serve` implements the routes; it is the
API document turned into code, not the product's server (no auth, no roles, no limits).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from andon.control.actions import ActionOutcome, ActionRequest
from andon.control.rollback import Selection
from andon.control.service import StoreControl
from andon.errors import ApprovalPending, ControlError, Denied
from andon.sdk.delivery import event_from_dict
from andon.store.tables import runbook_revisions

Route = Callable[[StoreControl, dict[str, Any], dict[str, str], re.Match[str]], Any]


def _state(svc: StoreControl, body: dict[str, Any], q: dict[str, str], m: re.Match[str]) -> Any:
    state = svc.state()
    document = None
    if state.revision is not None:
        with svc.engine.connect() as conn:
            document = (
                conn.execute(runbook_revisions.select().where(runbook_revisions.c.revision == state.revision))
                .one()
                .document
            )
    return {
        "epoch": state.epoch,
        "revision": state.revision,
        "runbook": document,
        "switches": [s.as_dict() for s in state.switches],
    }


def _flag(value: str | None) -> bool:
    return value == "true"


ROUTES: list[tuple[str, str, Route]] = [
    (
        "GET",
        r"/v1/control/epoch",
        lambda s, b, q, m: dict(zip(("epoch", "revision"), s.epoch(), strict=True)),
    ),
    ("GET", r"/v1/control/state", _state),
    ("POST", r"/v1/decisions", lambda s, b, q, m: s.decide(ActionRequest.from_dict(b)).as_dict()),
    (
        "POST",
        r"/v1/actions/(?P<id>[^/]+)/outcome",
        lambda s, b, q, m: {
            "tripped": s.record_outcome(ActionOutcome.from_dict({**b, "action_id": m["id"]}))
        },
    ),
    (
        "POST",
        r"/v1/events",
        lambda s, b, q, m: {
            "appended": s.append_events(b["batch_id"], [event_from_dict(e) for e in b["events"]])
        },
    ),
    (
        "GET",
        r"/v1/switches",
        lambda s, b, q, m: {
            "switches": [
                x.as_dict()
                for x in s.list_switches(
                    workflow=q.get("workflow"), include_cleared=_flag(q.get("include_cleared"))
                )
            ]
        },
    ),
    (
        "POST",
        r"/v1/switches",
        lambda s, b, q, m: s.set_switch(
            kind=b["kind"],
            workflow=b["workflow"],
            target=b.get("target"),
            actor=b["actor"],
            reason=b["reason"],
            expires_at=datetime.fromisoformat(b["expires_at"]) if b.get("expires_at") else None,
        ).as_dict(),
    ),
    (
        "POST",
        r"/v1/switches/clear",
        lambda s, b, q, m: {
            "cleared": [
                x.as_dict()
                for x in s.clear_switches(
                    actor=b["actor"],
                    reason=b["reason"],
                    switch_id=b.get("switch_id"),
                    workflow=b.get("workflow"),
                    kinds=tuple(b.get("kinds") or ()),
                    target=b.get("target"),
                )
            ]
        },
    ),
    (
        "GET",
        r"/v1/approvals",
        lambda s, b, q, m: {
            "approvals": [
                a.as_dict()
                for a in s.list_approvals(
                    workflow=q.get("workflow"),
                    status=None if q.get("status") == "all" else q.get("status", "pending"),
                )
            ]
        },
    ),
    (
        "GET",
        r"/v1/approvals/stats",
        lambda s, b, q, m: {
            "approvers": [x.as_dict() for x in s.approval_stats(since=datetime.fromisoformat(q["since"]))]
        },
    ),
    ("GET", r"/v1/approvals/(?P<id>[^/]+)", lambda s, b, q, m: s.get_approval(m["id"]).as_dict()),
    (
        "POST",
        r"/v1/approvals/(?P<id>[^/]+)/decision",
        lambda s, b, q, m: s.decide_approval(
            m["id"],
            actor=b["actor"],
            approve=b["approve"],
            reason=b["reason"],
            edited_args=b.get("edited_args"),
        ).as_dict(),
    ),
    (
        "POST",
        r"/v1/approvals/(?P<id>[^/]+)/claim",
        lambda s, b, q, m: s.claim_approval(m["id"], actor=b["actor"]).as_dict(),
    ),
    (
        "GET",
        r"/v1/versions",
        lambda s, b, q, m: {
            "versions": [
                v.as_dict()
                for v in s.list_versions(workflow=q["workflow"], kind=q.get("kind"), name=q.get("name"))
            ]
        },
    ),
    ("POST", r"/v1/versions", lambda s, b, q, m: s.publish_version(**b).as_dict()),
    ("POST", r"/v1/versions/restore", lambda s, b, q, m: s.restore_version(**b).as_dict()),
    (
        "POST",
        r"/v1/versions/(?P<id>[^/]+)/approve",
        lambda s, b, q, m: s.approve_version(m["id"], actor=b["actor"], live=b.get("live", False)).as_dict(),
    ),
    (
        "POST",
        r"/v1/rollback/plan",
        lambda s, b, q, m: {"items": [i.as_dict() for i in s.rollback_plan(Selection.from_dict(b))]},
    ),
    (
        "POST",
        r"/v1/actions/(?P<id>[^/]+)/undo",
        lambda s, b, q, m: {
            "recorded": s.record_undo(
                action_id=m["id"],
                outcome=b["outcome"],
                actor=b["actor"],
                reason=b["reason"],
                detail=b.get("detail"),
            )
        },
    ),
]


def _error(status: int, message: str, errors: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    return status, {"ok": False, "error": message, "errors": errors, "status": status}


def handle(service: StoreControl, method: str, raw_path: str, body: dict[str, Any]) -> tuple[int, Any]:
    parts = urlsplit(raw_path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for verb, pattern, route in ROUTES:
        match = re.fullmatch(pattern, parts.path)
        if verb == method and match:
            try:
                return 200, route(service, body, query, match)
            except Denied as exc:
                return _error(
                    409,
                    str(exc),
                    [{"code": "denied", "reason": exc.reason, "rule": exc.rule, "fallback": exc.fallback}],
                )
            except ApprovalPending as exc:
                return _error(
                    409,
                    str(exc),
                    [{"code": "approval_pending", "approval_id": exc.approval_id, "rule": exc.rule}],
                )
            except ControlError as exc:
                return _error(404 if str(exc).startswith("no ") else 409, str(exc), [])
    return _error(404, f"no route {method} {parts.path}", [])


class ReferenceServer:
    """Serves the API on 127.0.0.1 on a free port in a thread; ``stop()`` takes it away mid-test."""

    def __init__(self, service: StoreControl, port: int = 0) -> None:
        svc = service
        open_sockets: set[Any] = set()
        self._sockets = open_sockets

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                open_sockets.add(self.connection)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                status, payload = handle(svc, self.command, self.path, body)
                data = json.dumps(payload, default=str).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Go away like a crashed server: stop listening and drop every kept-alive connection."""
        self.server.shutdown()
        self.server.server_close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
