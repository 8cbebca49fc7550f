"""``create_app(settings)``: the FastAPI app with its store, error body, limits, metrics, routers and console.

To add a router: append it to ``ROUTERS`` (every route in it must use ``auth.require``), then give each
of its routes a row in the role table of ``tests/server/test_roles.py``; that test fails for any route
without one.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from andon.server.activity import approvals_waiting_now
from andon.server.console import STATIC_DIR
from andon.server.console import audit as console_audit
from andon.server.console import control as console_control
from andon.server.console import incidents as console_incidents
from andon.server.console import pages as console_pages
from andon.server.decisions import DecisionWriter
from andon.server.errors import install_error_handlers
from andon.server.fastpath import DecisionFastPath
from andon.server.feed import ControlFeed
from andon.server.headers import SecurityHeaders
from andon.server.keycache import KeyCache
from andon.server.limits import BodySizeLimit
from andon.server.metrics import RequestTimer, ServerMetrics
from andon.server.routers import (
    activity,
    approvals,
    control,
    evidence,
    health,
    incident_review,
    incidents,
    keys,
    ledger,
    runbook,
    stream,
    versions,
    whoami,
)
from andon.server.routers.metrics import metrics_router
from andon.server.settings import Settings
from andon.store import create_engine, migrate

# Routes are matched in order, one by one: the control router, which holds the agents' hot path
# (POST /v1/decisions), comes first. No two routers share a path.
ROUTERS: list[APIRouter] = [
    control.router,
    health.router,
    whoami.router,
    keys.router,
    runbook.router,
    ledger.router,
    evidence.router,
    approvals.router,
    versions.router,
    stream.router,
    activity.router,
    incidents.router,
    incident_review.router,
    console_pages.router,
    console_audit.router,
    console_control.router,
    console_incidents.router,
]


def _version() -> str:
    try:
        return version("andon")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


class AndonApp(FastAPI):
    """FastAPI with the agents' hot path in front of its middleware stack (see ``fastpath``)."""

    def __init__(self, *, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._front = DecisionFastPath(super().__call__, state=self.state, max_body_bytes=max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._front(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; its lifespan opens the store named in ``settings`` and migrates it to the newest schema."""
    settings = settings if settings is not None else Settings.from_env()
    metrics = ServerMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.database_url, schema=settings.database_schema)
        try:
            await run_in_threadpool(migrate, engine)
            app.state.engine = engine
            url = engine.url.render_as_string(hide_password=False)  # the child opens the same store
            app.state.decisions = await run_in_threadpool(
                DecisionWriter, url, schema=settings.database_schema
            )
            app.state.feed = ControlFeed(engine)
            await app.state.feed.start()
            metrics.watch_approvals(lambda: approvals_waiting_now(engine))
            # A full garbage collection walks every object the process holds — after start-up
            # several hundred thousand (modules, schemas, compiled statements) — and under load that
            # stopped every request for ~100 ms about once a second. Frozen, they are left out; the
            # collector walks only what requests allocate.
            gc.collect()
            gc.freeze()
            yield
        finally:
            gc.unfreeze()
            if hasattr(app.state, "feed"):
                await app.state.feed.stop()
            if hasattr(app.state, "decisions"):
                await run_in_threadpool(app.state.decisions.close)
            engine.dispose()

    app = AndonApp(
        max_body_bytes=settings.max_body_bytes,
        title="Andon",
        version=_version(),
        description="Control server for AI workflows: decisions, switches, approvals, the ledger.",
        lifespan=lifespan,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.key_cache = KeyCache(ttl=settings.key_cache_seconds)
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(metrics_router(public=settings.metrics_public))
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    # Added last = outermost: the timer also sees requests the size limit refuses.
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestTimer, metrics=metrics)
    return app
