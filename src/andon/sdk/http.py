"""``HttpControl``: the ``ControlService`` interface over HTTP, for ``Andon.connect``.

The JSON API is written down in ``docs/api.md``; the server implements it over ``StoreControl``.
Standard library only (``http.client``), one keep-alive connection per thread. Errors: a 4xx with the
one JSON error body becomes ControlError (or Denied / ApprovalPending when ``errors[0].code`` says so);
anything that prevents an answer — refused connection, timeout, 5xx — becomes StoreError, which the
SDK treats as "unreachable" (writes fail closed, events spool).
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from andon.control.actions import ActionDecision, ActionOutcome, ActionRequest
from andon.control.approvals import Approval, ApproverStats
from andon.control.rollback import PlanItem, Selection
from andon.control.state import ControlState, Switch, compile_document
from andon.control.versions import Version
from andon.errors import ApprovalPending, ControlError, Denied, StoreError
from andon.ledger.events import Event
from andon.sdk.delivery import event_to_dict


def _query(**params: Any) -> str:
    given = {
        k: ("true" if v is True else "false" if v is False else v) for k, v in params.items() if v is not None
    }
    return f"?{urlencode(given)}" if given else ""


class HttpControl:
    """Client of the Andon server's ``/v1`` API; same methods as ``StoreControl``."""

    def __init__(self, url: str, *, token: str, timeout: float = 5.0) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ControlError(f"server URL {url!r} is not http(s)://host[:port]")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.prefix = parts.path
        self.token = token
        self.timeout = timeout
        self._local = threading.local()
        self._compiled: tuple[int | None, Any] = (None, {})

    # -- transport ---------------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """One call; returns the decoded JSON body of a 2xx answer."""
        data = None if body is None else json.dumps(body, default=str).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):  # a kept-alive connection the server closed gets one fresh retry
            conn = self._connection()
            try:
                conn.request(method, self.prefix + path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
                break
            except (http.client.HTTPException, OSError) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2 or not isinstance(exc, http.client.RemoteDisconnected | ConnectionResetError):
                    raise StoreError(f"cannot reach the Andon server at {self.host}: {exc}") from exc
        status = response.status
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        if status >= 500 or (status >= 400 and not isinstance(payload, dict)):
            raise StoreError(f"the Andon server answered {status} to {method} {path}")
        if status >= 400:
            assert isinstance(payload, dict)
            raise self._error(payload, status)
        return payload

    @staticmethod
    def _error(payload: dict[str, Any], status: int) -> Exception:
        message = str(payload.get("error") or f"HTTP {status}")
        details = payload.get("errors") or []
        first = details[0] if details and isinstance(details[0], dict) else {}
        code = first.get("code")
        if code == "approval_pending":
            return ApprovalPending(first.get("approval_id", "?"), rule=first.get("rule", ""), reason=message)
        if code == "denied":
            return Denied(
                first.get("reason", message), rule=first.get("rule", ""), fallback=first.get("fallback")
            )
        if status in (401, 403):
            return ControlError(f"the Andon server refused the key: {message}")
        return ControlError(message)

    # -- state -------------------------------------------------------------------------------------
    def state(self) -> ControlState:
        data = self.request("GET", "/v1/control/state")
        revision = data.get("revision")
        if self._compiled[0] != revision or revision is None:
            document = data.get("runbook")
            self._compiled = (revision, compile_document(document) if document else {})
        return ControlState(
            workflows=self._compiled[1],
            switches=tuple(Switch.from_dict(s) for s in data.get("switches", [])),
            revision=revision,
            epoch=int(data.get("epoch", 0)),
            document=data.get("runbook"),
        )

    def epoch(self) -> tuple[int, int | None]:
        data = self.request("GET", "/v1/control/epoch")
        return int(data["epoch"]), data.get("revision")

    # -- guarded actions ---------------------------------------------------------------------------
    def decide(self, request: ActionRequest) -> ActionDecision:
        return ActionDecision.from_dict(self.request("POST", "/v1/decisions", request.as_dict()))

    def record_outcome(self, outcome: ActionOutcome) -> str | None:
        body = outcome.as_dict()
        data = self.request("POST", f"/v1/actions/{body.pop('action_id')}/outcome", body)
        tripped: str | None = data.get("tripped")
        return tripped

    def append_events(self, batch_id: str, events: Sequence[Event]) -> int:
        body = {"batch_id": batch_id, "events": [event_to_dict(e) for e in events]}
        return int(self.request("POST", "/v1/events", body)["appended"])

    # -- switches ----------------------------------------------------------------------------------
    def set_switch(
        self,
        *,
        kind: str,
        workflow: str | None,
        actor: str,
        reason: str,
        target: str | None = None,
        expires_at: datetime | None = None,
    ) -> Switch:
        body = {
            "kind": kind,
            "workflow": workflow,
            "target": target,
            "actor": actor,
            "reason": reason,
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        return Switch.from_dict(self.request("POST", "/v1/switches", body))

    def clear_switches(
        self,
        *,
        actor: str,
        reason: str,
        switch_id: str | None = None,
        workflow: str | None = None,
        kinds: tuple[str, ...] = (),
        target: str | None = None,
    ) -> list[Switch]:
        body = {
            "actor": actor,
            "reason": reason,
            "switch_id": switch_id,
            "workflow": workflow,
            "kinds": list(kinds),
            "target": target,
        }
        return [Switch.from_dict(s) for s in self.request("POST", "/v1/switches/clear", body)["cleared"]]

    def list_switches(self, *, workflow: str | None = None, include_cleared: bool = False) -> list[Switch]:
        data = self.request(
            "GET", "/v1/switches" + _query(workflow=workflow, include_cleared=include_cleared)
        )
        return [Switch.from_dict(s) for s in data["switches"]]

    # -- approvals ---------------------------------------------------------------------------------
    def get_approval(self, approval_id: str) -> Approval:
        return Approval.from_dict(self.request("GET", f"/v1/approvals/{approval_id}"))

    def list_approvals(
        self, *, workflow: str | None = None, status: str | None = "pending"
    ) -> list[Approval]:
        data = self.request("GET", "/v1/approvals" + _query(workflow=workflow, status=status or "all"))
        return [Approval.from_dict(a) for a in data["approvals"]]

    def decide_approval(
        self,
        approval_id: str,
        *,
        actor: str,
        approve: bool,
        reason: str,
        edited_args: dict[str, Any] | None = None,
    ) -> Approval:
        body = {"actor": actor, "approve": approve, "reason": reason, "edited_args": edited_args}
        return Approval.from_dict(self.request("POST", f"/v1/approvals/{approval_id}/decision", body))

    def claim_approval(self, approval_id: str, *, actor: str) -> Approval:
        return Approval.from_dict(
            self.request("POST", f"/v1/approvals/{approval_id}/claim", {"actor": actor})
        )

    def approval_stats(self, *, since: datetime) -> list[ApproverStats]:
        data = self.request("GET", "/v1/approvals/stats" + _query(since=since.isoformat()))
        return [ApproverStats(**s) for s in data["approvers"]]

    # -- versions ----------------------------------------------------------------------------------
    def publish_version(
        self,
        *,
        workflow: str,
        kind: str,
        name: str,
        content: Any,
        actor: str,
        version: str | None = None,
        live: bool = False,
    ) -> Version:
        body = {
            "workflow": workflow,
            "kind": kind,
            "name": name,
            "content": content,
            "actor": actor,
            "version": version,
            "live": live,
        }
        return Version.from_dict(self.request("POST", "/v1/versions", body))

    def approve_version(self, version_id: str, *, actor: str, live: bool = False) -> Version:
        body = {"actor": actor, "live": live}
        return Version.from_dict(self.request("POST", f"/v1/versions/{version_id}/approve", body))

    def restore_version(
        self, *, workflow: str, kind: str, name: str, to: str, actor: str, reason: str
    ) -> Version:
        body = {"workflow": workflow, "kind": kind, "name": name, "to": to, "actor": actor, "reason": reason}
        return Version.from_dict(self.request("POST", "/v1/versions/restore", body))

    def list_versions(
        self, *, workflow: str, kind: str | None = None, name: str | None = None
    ) -> list[Version]:
        data = self.request("GET", "/v1/versions" + _query(workflow=workflow, kind=kind, name=name))
        return [Version.from_dict(v) for v in data["versions"]]

    # -- rollback ----------------------------------------------------------------------------------
    def rollback_plan(self, selection: Selection) -> list[PlanItem]:
        data = self.request("POST", "/v1/rollback/plan", selection.as_dict())
        return [PlanItem.from_dict(item) for item in data["items"]]

    def record_undo(
        self, *, action_id: str, outcome: str, actor: str, reason: str, detail: Any = None
    ) -> bool:
        body = {"outcome": outcome, "actor": actor, "reason": reason, "detail": detail}
        return bool(self.request("POST", f"/v1/actions/{action_id}/undo", body)["recorded"])
