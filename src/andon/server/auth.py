"""The one gate every router uses: ``require(role, workflow=...)``.

A request authenticates with ``Authorization: Bearer andon_...`` (an API key) or with the console
session cookie; session requests with an unsafe method must also carry the session's CSRF token.
Then the principal's role must pass the gate (see ``principals.role_allows``), and, when the route
names a workflow path parameter, the principal must be scoped to that workflow::

    Responder = Annotated[Principal, Depends(require("responder", workflow="workflow_id"))]

    @router.post("/v1/workflows/{workflow_id}/pause")
    def pause(workflow_id: str, who: Responder, engine: EngineDep) -> ...:
        with engine.begin() as conn:
            switches.pause(conn, workflow=workflow_id, actor=who.actor, ...)

For a workflow named in the body, call ``ensure_workflow(principal, body.workflow)`` in the route.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from andon.server.apikeys import Rejection, hash_key, lookup_key, touch_key
from andon.server.errors import ApiError
from andon.server.keycache import KeyCache
from andon.server.principals import Principal, Role, role_allows
from andon.server.sessions import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE, load_session, tokens_match
from andon.store import reading

log = logging.getLogger("andon.server.auth")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
Gate = Role | Literal["any"]


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


# Dependencies that only read app state are ``async def``: FastAPI runs a plain ``def`` dependency
# in the thread pool, a thread hop per request for an attribute read.
async def engine_dependency(request: Request) -> Engine:
    return get_engine(request)


EngineDep = Annotated[Engine, Depends(engine_dependency)]


async def get_key_cache(request: Request) -> KeyCache:
    cache: KeyCache = request.app.state.key_cache
    return cache


# A route that revokes a key calls ``key_cache.forget(key_id)`` once the revocation has committed.
KeyCacheDep = Annotated[KeyCache, Depends(get_key_cache)]


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, message, code="unauthenticated", headers={"WWW-Authenticate": "Bearer"})


def _check_key(engine: Engine, presented: str) -> Principal | Rejection:
    # Read-only, so checking a key never waits for (or holds) SQLite's one write lock; the
    # last-used time is written in a transaction of its own at most once a minute per key.
    with reading(engine) as conn:
        found = lookup_key(conn, presented)
    if isinstance(found, Rejection):
        return found
    principal, stale = found
    if stale:
        with engine.begin() as conn:
            touch_key(conn, principal.id)
    return principal


def _check_session(engine: Engine, token: str) -> Principal | None:
    with engine.begin() as conn:
        return load_session(conn, token)


_refreshes: set[asyncio.Task[None]] = set()  # held so they are not collected while they run


def refresh_ahead(cache: KeyCache, engine: Engine, presented: str, key_hash: str) -> None:
    """Re-verify a cached key in the background when its entry is past half its time (see keycache)."""
    if not cache.claim_refresh(key_hash):
        return
    generation = cache.generation

    async def refresh() -> None:
        try:
            result = await run_in_threadpool(_check_key, engine, presented)
        except Exception:  # the store is away: the entry lapses as usual and a request reads again
            log.warning("could not re-verify a cached API key; it lapses at its time", exc_info=True)
            return
        finally:
            cache.refreshed(key_hash)
        if isinstance(result, Rejection):
            cache.drop(key_hash)  # revoked or expired elsewhere: refused from now on
        else:
            cache.put(key_hash, result, generation=generation)

    task = asyncio.get_running_loop().create_task(refresh())
    _refreshes.add(task)
    task.add_done_callback(_refreshes.discard)


def cached_principal(cache: KeyCache, engine: Engine, presented: str) -> tuple[str, Principal | None]:
    """The key's hash and, if it was verified a moment ago, its principal (refreshed ahead, see keycache)."""
    key_hash = hash_key(presented)
    cached = cache.get(key_hash)
    if cached is not None:
        refresh_ahead(cache, engine, presented, key_hash)
    return key_hash, cached


async def authenticate(request: Request) -> Principal:
    """The caller behind a request, or 401."""
    engine = get_engine(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise _unauthenticated("malformed Authorization header; send 'Authorization: Bearer andon_...'")
        presented = value.strip()
        # A key verified a moment ago skips the store read and the thread hop (see keycache).
        cache: KeyCache = request.app.state.key_cache
        key_hash, cached = cached_principal(cache, engine, presented)
        if cached is not None:
            return cached
        generation = cache.generation
        result = await run_in_threadpool(_check_key, engine, presented)
        if isinstance(result, Rejection):
            raise _unauthenticated(result.reason)
        cache.put(key_hash, result, generation=generation)
        return result
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        principal = await run_in_threadpool(_check_session, engine, token)
        if principal is None:
            raise _unauthenticated("your console session has ended; log in again")
        return principal
    raise _unauthenticated(
        "authentication required: send 'Authorization: Bearer <API key>' or log in to the console"
    )


async def _check_csrf(request: Request, principal: Principal) -> None:
    sent = request.headers.get(CSRF_HEADER)
    content_type = request.headers.get("content-type", "")
    if sent is None and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        field = (await request.form()).get(CSRF_FIELD)
        sent = field if isinstance(field, str) else None
    if not tokens_match(sent, principal.csrf_token):
        raise ApiError(
            403,
            f"missing or wrong CSRF token; console requests that change things must send the "
            f"{CSRF_HEADER} header or a {CSRF_FIELD} form field",
            code="csrf_failed",
        )


def ensure_workflow(principal: Principal, workflow: str) -> None:
    """403 unless ``principal`` is scoped to ``workflow``."""
    if not principal.may_touch(workflow):
        raise ApiError(
            403, f"{principal.kind} {principal.id} is not scoped to workflow {workflow!r}", code="forbidden"
        )


def require(
    role: Gate, *, workflow: str | None = None, agents: bool = False
) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency admitting callers whose role passes ``role`` (``"any"``: every authenticated caller).

    ``workflow`` names the path parameter holding a workflow id the caller must be scoped to;
    ``agents=True`` also admits agent keys to a human gate (reads an agent process needs).
    """

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if principal.kind == "user" and request.method not in SAFE_METHODS:
            await _check_csrf(request, principal)
        if role != "any" and not role_allows(principal.role, role, agents=agents):
            need = f"'{role}'" + (" or 'agent'" if agents and role != "agent" else "")
            raise ApiError(
                403,
                f"{request.method} {request.url.path} needs role {need}; "
                f"{principal.kind} {principal.id} has '{principal.role}'",
                code="forbidden",
            )
        if workflow is not None:
            ensure_workflow(principal, request.path_params[workflow])
        request.state.principal = principal
        return principal

    dependency.__name__ = f"require_{role}"
    return dependency
