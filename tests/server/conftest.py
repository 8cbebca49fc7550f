"""Server fixtures: the real app over httpx's in-process ASGI transport, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from andon.server import apikeys
from andon.server.app import create_app
from andon.server.settings import Settings
from andon.server.users import create_user

PASSWORD = "correct horse battery"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Server:
    """A running app (lifespan entered), a client bound to it, and helpers to mint credentials."""

    app: FastAPI
    client: httpx.AsyncClient
    keys: dict[str, str] = field(default_factory=dict)
    password: str = PASSWORD  # of every user new_user() makes

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.engine
        return engine

    def new_key(
        self, role: str, *, workflows: list[str] | None = None, expires_at: datetime | None = None
    ) -> str:
        if role == "agent" and workflows is None:
            workflows = ["support-triage"]
        with self.engine.begin() as conn:
            new = apikeys.create_key(
                conn, name=f"{role} test key", role=role, workflows=workflows, expires_at=expires_at,
                created_by="tests",
            )  # fmt: skip
        return new.secret

    def auth(self, role: str) -> dict[str, str]:
        """Authorization header of a (cached) key with ``role``."""
        if role not in self.keys:
            self.keys[role] = self.new_key(role)
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def new_user(self, username: str, role: str) -> None:
        with self.engine.begin() as conn:
            create_user(conn, username=username, password=PASSWORD, role=role, created_by="tests")

    async def login(self, username: str, role: str = "admin") -> str:
        """Log ``username`` in through the real form; returns the session's CSRF token."""
        self.new_user(username, role)
        response = await self.client.post(
            "/console/login",
            data={"username": username, "password": PASSWORD, "csrf_token": await self.login_form_token()},
        )
        assert response.status_code == 303, response.text
        overview = await self.client.get("/console/")
        assert overview.status_code == 200, overview.text
        return csrf_from(overview.text)

    async def login_form_token(self) -> str:
        """Open the login form (which sets its double-submit cookie) and return the form's token."""
        page = await self.client.get("/console/login")
        assert page.status_code == 200 and 'name="password"' in page.text
        return csrf_from(page.text)


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[Server]:
    """Enter the app's lifespan (opens and migrates the store) and bind an in-process client."""
    async with app.router.lifespan_context(app):
        # raise_app_exceptions=False: a crash must come back as the 500 body a real client would see.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://andon.test") as client:
            yield Server(app=app, client=client)


RunApp = Callable[[FastAPI], AbstractAsyncContextManager[Server]]
ErrorBody = Callable[[httpx.Response, int], dict[str, Any]]


@pytest.fixture
def run_app() -> RunApp:
    """``async with run_app(app) as srv``, for tests that build their own app."""
    return running


def assert_error_body(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is the one JSON error body with ``status``; returns it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"ok", "error", "errors", "status"}
    assert body["ok"] is False
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    assert body["errors"], "errors lists at least one problem"
    for item in body["errors"]:
        assert set(item) == {"code", "message", "location"}
        assert isinstance(item["code"], str) and isinstance(item["message"], str)
    return body


@pytest.fixture
def error_body() -> ErrorBody:
    return assert_error_body


@pytest.fixture
def settings(db: tuple[str, str | None]) -> Settings:
    """Settings for a fresh store on each database (SQLite, PostgreSQL)."""
    url, schema = db
    return Settings(database_url=url, database_schema=schema)


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[Server]:
    async with running(create_app(settings)) as srv:
        yield srv
