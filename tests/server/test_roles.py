"""Every route × every role: no role can do more than it should, and no route escapes the table.

ROUTES names the least role each route needs. A new router must add a row per route; a route
missing from the table (or a row for a route that no longer exists) fails this test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from fastapi import FastAPI
from starlette.routing import Mount

from andon.server.app import create_app
from andon.server.settings import Settings

if TYPE_CHECKING:
    from tests.server.conftest import Server


HUMANS = ("viewer", "responder", "approver", "admin")
CALLERS = (None, *HUMANS, "agent")  # None: no credentials at all

# gate -> who gets in. Written out here, not computed by the code under test.
ADMITTED: dict[str, set[str | None]] = {
    "public": {None, *HUMANS, "agent"},
    "any": {*HUMANS, "agent"},  # any authenticated caller
    "viewer": {*HUMANS},
    "viewer+agent": {*HUMANS, "agent"},  # reads an agent process needs
    "responder": {"responder", "approver", "admin"},
    "responder+agent": {"responder", "approver", "admin", "agent"},  # undo results from the agent
    "approver": {"approver", "admin"},
    "admin": {"admin"},
    "agent": {"agent", "admin"},  # decisions and events
}

# (method, route path) -> (gate, the concrete path to request). "*" is a mount (any method, GET probed).
ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/openapi.json"): ("public", "/openapi.json"),
    ("GET", "/docs"): ("public", "/docs"),
    ("GET", "/docs/oauth2-redirect"): ("public", "/docs/oauth2-redirect"),
    ("GET", "/healthz"): ("public", "/healthz"),
    ("GET", "/metrics"): ("viewer", "/metrics"),
    ("GET", "/v1/whoami"): ("any", "/v1/whoami"),
    ("POST", "/v1/keys"): ("admin", "/v1/keys"),
    ("GET", "/v1/keys"): ("admin", "/v1/keys"),
    ("GET", "/v1/keys/{key_id}"): ("admin", "/v1/keys/key_missing"),
    ("DELETE", "/v1/keys/{key_id}"): ("admin", "/v1/keys/key_missing"),
    ("POST", "/v1/runbook/lint"): ("viewer", "/v1/runbook/lint"),
    ("POST", "/v1/runbook/revisions"): ("admin", "/v1/runbook/revisions"),
    ("GET", "/v1/runbook/revisions"): ("viewer", "/v1/runbook/revisions"),
    ("GET", "/v1/runbook/revisions/{revision}"): ("viewer", "/v1/runbook/revisions/1"),
    ("GET", "/v1/workflows"): ("viewer+agent", "/v1/workflows"),
    ("GET", "/v1/workflows/{workflow_id}"): ("viewer+agent", "/v1/workflows/support-triage"),
    ("POST", "/v1/events"): ("agent", "/v1/events"),
    ("GET", "/v1/events"): ("viewer", "/v1/events"),
    ("GET", "/v1/events/{index}"): ("viewer", "/v1/events/0"),
    ("GET", "/v1/ledger/checkpoint"): ("viewer", "/v1/ledger/checkpoint"),
    ("POST", "/v1/ledger/checkpoint"): ("responder", "/v1/ledger/checkpoint"),
    ("GET", "/v1/ledger/verify"): ("viewer", "/v1/ledger/verify"),
    ("GET", "/v1/ledger/key"): ("viewer", "/v1/ledger/key"),
    ("POST", "/v1/evidence"): ("responder", "/v1/evidence"),
    ("POST", "/v1/evidence/verify"): ("viewer", "/v1/evidence/verify"),
    ("GET", "/v1/control/epoch"): ("viewer+agent", "/v1/control/epoch"),
    ("GET", "/v1/control/state"): ("viewer+agent", "/v1/control/state"),
    ("POST", "/v1/decisions"): ("agent", "/v1/decisions"),
    ("POST", "/v1/actions/{action_id}/outcome"): ("agent", "/v1/actions/act-missing/outcome"),
    ("GET", "/v1/switches"): ("viewer+agent", "/v1/switches"),
    ("POST", "/v1/switches"): ("responder", "/v1/switches"),
    ("POST", "/v1/switches/clear"): ("responder", "/v1/switches/clear"),
    ("GET", "/v1/approvals"): ("viewer+agent", "/v1/approvals"),
    ("GET", "/v1/approvals/stats"): ("viewer", "/v1/approvals/stats"),
    ("GET", "/v1/approvals/{approval_id}"): ("viewer+agent", "/v1/approvals/apr-missing"),
    ("POST", "/v1/approvals/{approval_id}/decision"): ("approver", "/v1/approvals/apr-missing/decision"),
    ("POST", "/v1/approvals/{approval_id}/claim"): ("agent", "/v1/approvals/apr-missing/claim"),
    ("GET", "/v1/versions"): ("viewer+agent", "/v1/versions?workflow=support-triage"),
    ("POST", "/v1/versions"): ("responder", "/v1/versions"),
    ("POST", "/v1/versions/restore"): ("responder", "/v1/versions/restore"),
    ("POST", "/v1/versions/{version_id}/approve"): ("approver", "/v1/versions/ver-missing/approve"),
    ("POST", "/v1/rollback/plan"): ("viewer+agent", "/v1/rollback/plan"),
    ("POST", "/v1/actions/{action_id}/undo"): ("responder+agent", "/v1/actions/act-missing/undo"),
    ("GET", "/v1/incidents"): ("viewer", "/v1/incidents"),
    ("POST", "/v1/incidents"): ("responder", "/v1/incidents"),
    ("GET", "/v1/incidents/{incident_id}"): ("viewer", "/v1/incidents/INC-9999"),
    ("POST", "/v1/incidents/{incident_id}/ack"): ("responder", "/v1/incidents/INC-9999/ack"),
    ("POST", "/v1/incidents/{incident_id}/state"): ("responder", "/v1/incidents/INC-9999/state"),
    ("POST", "/v1/incidents/{incident_id}/reopen"): ("responder", "/v1/incidents/INC-9999/reopen"),
    ("POST", "/v1/incidents/{incident_id}/notes"): ("responder", "/v1/incidents/INC-9999/notes"),
    ("POST", "/v1/incidents/{incident_id}/checklist/{position}"): (
        "responder",
        "/v1/incidents/INC-9999/checklist/1",
    ),
    ("POST", "/v1/incidents/{incident_id}/containment"): ("responder", "/v1/incidents/INC-9999/containment"),
    ("POST", "/v1/incidents/{incident_id}/freeze"): ("responder", "/v1/incidents/INC-9999/freeze"),
    ("POST", "/v1/incidents/{incident_id}/restore"): ("responder", "/v1/incidents/INC-9999/restore"),
    ("POST", "/v1/incidents/{incident_id}/rollback"): ("responder", "/v1/incidents/INC-9999/rollback"),
    ("POST", "/v1/incidents/{incident_id}/rollback/{step_id}"): (
        "responder",
        "/v1/incidents/INC-9999/rollback/ia-missing",
    ),
    ("POST", "/v1/incidents/{incident_id}/acts"): ("responder", "/v1/incidents/INC-9999/acts"),
    ("GET", "/v1/incidents/{incident_id}/clocks"): ("viewer", "/v1/incidents/INC-9999/clocks"),
    ("GET", "/v1/incidents/{incident_id}/affected"): ("viewer", "/v1/incidents/INC-9999/affected"),
    ("GET", "/v1/incidents/{incident_id}/review"): ("viewer", "/v1/incidents/INC-9999/review"),
    ("PUT", "/v1/incidents/{incident_id}/review"): ("responder", "/v1/incidents/INC-9999/review"),
    ("POST", "/v1/incidents/{incident_id}/review/items"): (
        "responder",
        "/v1/incidents/INC-9999/review/items",
    ),
    ("POST", "/v1/incidents/{incident_id}/review/items/{item_id}/done"): (
        "responder",
        "/v1/incidents/INC-9999/review/items/1/done",
    ),
    ("POST", "/v1/incidents/{incident_id}/review/cases"): (
        "responder",
        "/v1/incidents/INC-9999/review/cases",
    ),
    ("GET", "/v1/incidents/{incident_id}/review/cases.jsonl"): (
        "viewer",
        "/v1/incidents/INC-9999/review/cases.jsonl",
    ),
    ("POST", "/v1/incidents/{incident_id}/review/sign-off"): (
        "responder",
        "/v1/incidents/INC-9999/review/sign-off",
    ),
    ("POST", "/v1/incidents/{incident_id}/resume"): ("responder", "/v1/incidents/INC-9999/resume"),
    ("GET", "/v1/stream"): ("viewer+agent", "/v1/stream?seconds=0"),
    ("GET", "/v1/overview"): ("viewer", "/v1/overview"),
    ("GET", "/v1/workflows/{workflow_id}/activity"): ("viewer", "/v1/workflows/support-triage/activity"),
    ("GET", "/console/workflows/{workflow_id}"): ("viewer", "/console/workflows/support-triage"),
    ("POST", "/console/workflows/{workflow_id}/switches"): (
        "responder",
        "/console/workflows/support-triage/switches",
    ),
    ("POST", "/console/workflows/{workflow_id}/restore"): (
        "responder",
        "/console/workflows/support-triage/restore",
    ),
    ("GET", "/console/approvals"): ("viewer", "/console/approvals"),
    ("GET", "/console/approvals/{approval_id}"): ("viewer", "/console/approvals/apr-missing"),
    ("POST", "/console/approvals/{approval_id}"): ("approver", "/console/approvals/apr-missing"),
    ("GET", "/console/login"): ("public", "/console/login"),
    ("POST", "/console/login"): ("public", "/console/login"),
    ("POST", "/console/logout"): ("any", "/console/logout"),
    ("GET", "/console/"): ("viewer", "/console/"),
    ("GET", "/console/keys"): ("admin", "/console/keys"),
    ("POST", "/console/keys"): ("admin", "/console/keys"),
    ("POST", "/console/keys/{key_id}/revoke"): ("admin", "/console/keys/key_missing/revoke"),
    ("GET", "/console/audit"): ("viewer", "/console/audit"),
    ("GET", "/console/audit/verify"): ("viewer", "/console/audit/verify"),
    ("GET", "/console/audit/{index}"): ("viewer", "/console/audit/0"),
    ("POST", "/console/audit/checkpoint"): ("responder", "/console/audit/checkpoint"),
    ("GET", "/console/runbook"): ("viewer", "/console/runbook"),
    ("GET", "/console/incidents"): ("viewer", "/console/incidents"),
    ("POST", "/console/incidents"): ("responder", "/console/incidents"),
    ("GET", "/console/incidents/{incident_id}"): ("viewer", "/console/incidents/INC-9999"),
    ("POST", "/console/incidents/{incident_id}"): ("responder", "/console/incidents/INC-9999"),
    ("*", "/console/static"): ("public", "/console/static/andon.css"),
}


def app_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app serves, HEAD left out (it follows GET)."""

    def walk(routes: list[Any]) -> Iterator[tuple[str, str]]:
        for route in routes:
            if isinstance(route, Mount):
                yield "*", route.path
            elif hasattr(route, "methods") and hasattr(route, "path"):
                for method in sorted(route.methods - {"HEAD"}):
                    yield method, route.path
            elif hasattr(route, "original_router"):  # newer FastAPI keeps included routers whole
                yield from walk(route.original_router.routes)
            else:
                raise AssertionError(f"cannot list the routes of {route!r}; teach app_routes about it")

    yield from walk(list(app.routes))


def test_every_route_has_a_row_and_every_row_a_route() -> None:
    server_app = create_app(Settings())  # routes only: the store is opened by the lifespan, not entered here
    served = set(app_routes(server_app))
    missing = sorted(served - ROUTES.keys())
    stale = sorted(ROUTES.keys() - served)
    assert not missing, f"routes without a row in ROUTES (add their least role): {missing}"
    assert not stale, f"rows in ROUTES for routes that do not exist: {stale}"
    documented = {path for path in server_app.openapi()["paths"]}
    assert documented <= {path for _, path in served}, "app_routes missed a documented path"


@pytest.mark.anyio
async def test_each_role_gets_exactly_what_its_gate_allows(server: Server) -> None:
    wrong: list[str] = []
    for (method, _route), (gate, path) in sorted(ROUTES.items()):
        verb = "GET" if method == "*" else method
        for caller in CALLERS:
            headers = {} if caller is None else server.auth(caller)
            body = None if verb in ("GET", "HEAD", "OPTIONS") else {}
            response = await server.client.request(verb, path, headers=headers, json=body)
            status = response.status_code
            denied = status in (401, 403) or (
                status == 303 and response.headers["location"].startswith("/console/login?next=")
            )
            if status >= 500:
                wrong.append(f"{verb} {path} as {caller}: {status} {response.text[:200]}")
            elif (caller in ADMITTED[gate]) == denied:
                expected = "admitted" if caller in ADMITTED[gate] else "refused"
                wrong.append(f"{verb} {path} as {caller}: expected {expected} ({gate}), got {status}")
            elif denied and caller is not None and status != 403:
                wrong.append(f"{verb} {path} as {caller}: refused with {status}, expected 403")
    assert not wrong, "role matrix violations:\n" + "\n".join(wrong)
