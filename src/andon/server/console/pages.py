"""Console pages: login, logout, the overview and API keys. Each page has a JSON twin under /v1.

| page | JSON twin |
|---|---|
| /console/ | /v1/overview, /v1/whoami, /healthz |
| /console/keys | /v1/keys |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from andon.errors import ConfigError
from andon.server import activity, apikeys
from andon.server.auth import EngineDep, KeyCacheDep, require
from andon.server.console import TEMPLATES_DIR
from andon.server.errors import ApiError
from andon.server.principals import ROLES, Principal, Role, role_allows
from andon.server.sessions import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    end_session,
    new_token,
    start_session,
    tokens_match,
)
from andon.server.settings import Settings
from andon.server.users import authenticate_user
from andon.store import reading
from andon.store.types import utcnow

router = APIRouter(prefix="/console", include_in_schema=False)
templates = Jinja2Templates(directory=TEMPLATES_DIR)


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    role: Role  # shown to principals whose role passes this gate


# Pages add themselves here as they arrive.
NAV: list[NavItem] = [
    NavItem("Overview", "/console/", "viewer"),
    NavItem("Approvals", "/console/approvals", "viewer"),
    NavItem("Incidents", "/console/incidents", "viewer"),
    NavItem("Audit", "/console/audit", "viewer"),
    NavItem("Runbook", "/console/runbook", "viewer"),
    NavItem("API keys", "/console/keys", "admin"),
]

Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Anyone = Annotated[Principal, Depends(require("any"))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def render(
    request: Request, template: str, principal: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A logged-in page: the layout gets the principal, the nav it may see and the CSRF token."""
    # An app may add pages of its own (``andon demo`` adds its page) without touching the shared NAV.
    extra: list[NavItem] = getattr(request.app.state, "extra_nav", [])
    nav = [item for item in [*NAV, *extra] if role_allows(principal.role, item.role)]
    return templates.TemplateResponse(
        request,
        template,
        {"principal": principal, "nav": nav, "csrf_token": principal.csrf_token or "", **context},
        status_code=status_code,
    )


def _safe_next(target: str | None) -> str:
    # Only our own console paths: an attacker-chosen "next" must not turn login into an open redirect.
    if target and target.startswith("/console/") and "//" not in target and "\\" not in target:
        return target
    return "/console/"


def _login_page(request: Request, *, next_path: str, error: str | None, status_code: int) -> HTMLResponse:
    token = new_token()
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"csrf_token": token, "next": next_path, "error": error},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_settings(request).secure_cookies,
        path="/console/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(request, next_path=_safe_next(next), error=None, status_code=200)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    engine: EngineDep,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=200)] = "",
    next: Annotated[str, Form(max_length=1000)] = "/console/",
) -> Response:
    """Check the password, start a server-side session and set its HttpOnly SameSite=Strict cookie."""
    next_path = _safe_next(next)
    if not tokens_match(csrf_token, request.cookies.get(LOGIN_CSRF_COOKIE)):
        return _login_page(
            request, next_path=next_path, error="The form expired; please try again.", status_code=403
        )
    settings = _settings(request)
    with engine.begin() as conn:
        user = authenticate_user(conn, username=username, password=password)
        token = (
            None if user is None else start_session(conn, user, ttl=timedelta(hours=settings.session_hours))
        )
    if token is None:
        return _login_page(request, next_path=next_path, error="Wrong username or password.", status_code=401)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console/login")
    return response


@router.post("/logout")
def logout(request: Request, principal: Anyone, engine: EngineDep) -> Response:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with engine.begin() as conn:
            end_session(conn, token)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, principal: Viewer, engine: EngineDep) -> HTMLResponse:
    """Every workflow at a glance (JSON twin: /v1/overview), and who you are on which server."""
    with reading(engine) as conn:
        revision = conn.execute(sa.text("select version_num from alembic_version")).scalar()
        summary = activity.overview(conn, now=utcnow(), may_touch=principal.may_touch)
    store = {"dialect": engine.dialect.name, "schema_revision": revision}
    return render(request, "overview.html", principal, store=store, summary=summary)


@router.get("/keys", response_class=HTMLResponse)
def keys_page(request: Request, principal: Admin, engine: EngineDep) -> HTMLResponse:
    with engine.begin() as conn:
        keys = apikeys.list_keys(conn)
    return render(request, "keys.html", principal, keys=keys, roles=ROLES, new_key=None, error=None)


@router.post("/keys", response_class=HTMLResponse)
def keys_create(
    request: Request,
    principal: Admin,
    engine: EngineDep,
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[Role, Form()],
    owner: Annotated[str, Form(max_length=200)] = "",
    workflows: Annotated[str, Form(max_length=4000)] = "",
    expires_in_days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> HTMLResponse:
    """Create a key and show it once on the page that answers this form."""
    scoped = [w.strip() for w in workflows.split(",") if w.strip()] or None
    expires_at = None if expires_in_days is None else utcnow() + timedelta(days=expires_in_days)
    new_key = None
    error = None
    with engine.begin() as conn:
        try:
            new_key = apikeys.create_key(
                conn,
                name=name,
                role=role,
                owner=owner or None,
                workflows=scoped,
                expires_at=expires_at,
                created_by=principal.actor,
            )
        except ConfigError as exc:
            error = str(exc)
        keys = apikeys.list_keys(conn)
    return render(
        request,
        "keys.html",
        principal,
        status_code=201 if new_key else 422,
        keys=keys,
        roles=ROLES,
        new_key=new_key,
        error=error,
    )


@router.post("/keys/{key_id}/revoke")
def keys_revoke(key_id: str, principal: Admin, engine: EngineDep, key_cache: KeyCacheDep) -> Response:
    with engine.begin() as conn:
        record = apikeys.revoke_key(conn, key_id, revoked_by=principal.actor)
    key_cache.forget(key_id)
    if record is None:
        raise ApiError(404, f"no API key {key_id!r}", code="not_found")
    return RedirectResponse("/console/keys", status_code=303)
