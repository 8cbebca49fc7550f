"""The demo's page and its JSON twin: the agents, the mock systems, scenario triggers and rollback.

| page | JSON twin |
|---|---|
| /console/demo | GET /v1/demo, POST /v1/demo/scenarios/{name}, POST /v1/demo/rollback/{workflow} |
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import BaseLoader, ChoiceLoader, FileSystemLoader

from andon.demo.world import DemoWorld
from andon.errors import AndonError
from andon.server.auth import require
from andon.server.console import pages
from andon.server.console.pages import NavItem, render
from andon.server.errors import ApiError
from andon.server.principals import Principal

DEMO_TEMPLATES = __file__.rsplit("/", 1)[0] + "/templates"

Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]


def install(app: FastAPI, world: DemoWorld) -> None:
    """Add the demo's routes and its nav entry to ``app``."""
    app.state.demo_world = world
    loader: BaseLoader | None = pages.templates.env.loader
    if not isinstance(loader, ChoiceLoader) and loader is not None:
        # The demo's one template sits beside this module and extends the console's layout.
        pages.templates.env.loader = ChoiceLoader([loader, FileSystemLoader(DEMO_TEMPLATES)])
    app.state.extra_nav = [NavItem("Demo", "/console/demo", "viewer")]
    app.include_router(router)


def _world(request: Request) -> DemoWorld:
    world: DemoWorld = request.app.state.demo_world
    return world


def _trigger(world: DemoWorld, name: str, who: Principal) -> str:
    try:
        return world.trigger(name, actor=who.actor)
    except AndonError as exc:
        raise ApiError(409, str(exc), code="scenario_refused") from exc


def _rollback(world: DemoWorld, workflow: str, who: Principal) -> dict[str, Any]:
    if workflow not in {agent.name for agent in world.agents}:
        raise ApiError(404, f"no demo workflow {workflow!r}", code="not_found")
    return world.rollback(workflow=workflow, actor=who.actor).as_dict()


router = APIRouter()


@router.get("/v1/demo", tags=["demo"])
def demo_state(request: Request, who: Viewer) -> dict[str, Any]:
    """The agents' counters, the mock systems and the scenarios on offer."""
    return {"ok": True, **_world(request).snapshot()}


@router.post("/v1/demo/scenarios/{name}", tags=["demo"])
def demo_trigger(name: str, request: Request, who: Responder) -> dict[str, Any]:
    """Set off a seed scenario (``bad-prompt`` or ``injection``)."""
    return {"ok": True, "message": _trigger(_world(request), name, who)}


@router.post("/v1/demo/rollback/{workflow}", tags=["demo"])
def demo_rollback(workflow: str, request: Request, who: Responder) -> dict[str, Any]:
    """Undo the workflow's executed actions with the demo agents' undos; conflicts are reported."""
    return {"ok": True, **_rollback(_world(request), workflow, who)}


@router.get("/console/demo", include_in_schema=False, response_class=HTMLResponse)
def demo_page(request: Request, who: Viewer, message: str | None = None) -> HTMLResponse:
    return render(request, "demo.html", who, snapshot=_world(request).snapshot(), message=message)


@router.post("/console/demo/scenarios/{name}", include_in_schema=False)
def demo_page_trigger(name: str, request: Request, who: Responder) -> RedirectResponse:
    message = _trigger(_world(request), name, who)
    return RedirectResponse(f"/console/demo?message={quote(message)}", status_code=303)


@router.post("/console/demo/rollback/{workflow}", include_in_schema=False)
def demo_page_rollback(workflow: str, request: Request, who: Responder) -> RedirectResponse:
    report = _rollback(_world(request), workflow, who)
    message = (
        f"{workflow}: {len(report['rolled_back'])} rolled back, {len(report['conflicts'])} conflicts "
        f"(left as they are), {len(report['skipped'])} skipped"
    )
    return RedirectResponse(f"/console/demo?message={quote(message)}", status_code=303)
