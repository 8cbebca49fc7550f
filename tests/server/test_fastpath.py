"""``POST /v1/decisions`` answered by the fast path (a key verified a moment ago) and by the route.

The first request with a key goes through FastAPI (the key is read from the store and cached); the
ones after it are answered by ``DecisionFastPath``. Both must give the same answers, record the same
things, and refuse the same requests with the same error body.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from andon.ledger.log import read_events
from andon.server import apikeys
from andon.server.app import create_app
from andon.server.settings import Settings
from andon.store.tables import control_actions
from control.runbooks import apply

from .test_control_api import WRITE, agent

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, RunApp, Server

pytestmark = pytest.mark.anyio


async def test_the_fast_path_answers_and_records_like_the_route(server: Server) -> None:
    apply(server.engine)
    headers = agent(server)
    first = await server.client.post("/v1/decisions", json=WRITE, headers=headers)  # route; caches the key
    second = await server.client.post("/v1/decisions", json=WRITE, headers=headers)  # fast path
    assert first.status_code == second.status_code == 200
    assert set(first.json()) == set(second.json()) and second.json()["outcome"] == "allow"
    assert second.headers["content-type"] == "application/json"
    assert second.headers["x-content-type-options"] == "nosniff"  # inside the security headers
    with server.engine.connect() as conn:
        decisions = [e for e in read_events(conn) if e.kind == "decision"]
        rows = conn.execute(sa.select(control_actions.c.id, control_actions.c.ledger_index)).all()
    assert [e.payload["action_id"] for e in decisions] == [
        first.json()["action_id"],
        second.json()["action_id"],
    ]
    assert {(r.id, r.ledger_index) for r in rows} == {
        (d.json()["action_id"], d.json()["ledger_index"]) for d in (first, second)
    }
    metrics = (await server.client.get("/metrics", headers=server.auth("viewer"))).text
    assert 'andon_http_request_seconds_count{method="POST",route="/v1/decisions",status="200"} 2.0' in metrics


async def test_the_fast_path_refuses_what_the_route_refuses(server: Server, error_body: ErrorBody) -> None:
    apply(server.engine)
    headers = agent(server)
    assert (await server.client.post("/v1/decisions", json=WRITE, headers=headers)).status_code == 200
    # The key is cached now: each of these reaches the fast path and is left to the route.
    other = {**WRITE, "workflow": "quote-estimates"}
    error_body(await server.client.post("/v1/decisions", json=other, headers=headers), 403)
    bad = error_body(
        await server.client.post("/v1/decisions", json={**WRITE, "confidence": 7}, headers=headers), 422
    )
    assert [p["location"] for p in bad["errors"]] == ["body.confidence"]
    error_body(await server.client.post("/v1/decisions", content=b"{not json", headers=headers), 422)
    viewer = server.auth("viewer")
    await server.client.get("/v1/control", headers=viewer)  # cache the viewer's key too
    error_body(await server.client.post("/v1/decisions", json=WRITE, headers=viewer), 403)


async def test_a_key_revoked_through_this_server_is_refused_at_once_on_the_fast_path(
    server: Server, error_body: ErrorBody
) -> None:
    apply(server.engine)
    secret = server.new_key("agent", workflows=["support-triage"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert (await server.client.post("/v1/decisions", json=WRITE, headers=headers)).status_code == 200
    listed = (await server.client.get("/v1/keys", headers=server.auth("admin"))).json()["keys"]
    key_id = next(k["id"] for k in listed if k["role"] == "agent" and k["revoked_at"] is None)
    revoked = await server.client.delete(f"/v1/keys/{key_id}", headers=server.auth("admin"))
    assert revoked.status_code == 200
    error_body(await server.client.post("/v1/decisions", json=WRITE, headers=headers), 401)


async def test_a_key_revoked_elsewhere_is_refused_once_the_refresh_ahead_has_read_it(
    settings: Settings, run_app: RunApp, error_body: ErrorBody
) -> None:
    """Past half its cache time, a hit re-reads the key in the background: a revocation made by another
    process (here straight in the store, as the CLI does) is refused before the entry would lapse."""
    async with run_app(create_app(replace(settings, key_cache_seconds=3.0))) as server:
        apply(server.engine)
        secret = server.new_key("agent", workflows=["support-triage"])
        headers = {"Authorization": f"Bearer {secret}"}
        assert (await server.client.post("/v1/decisions", json=WRITE, headers=headers)).status_code == 200
        cached_at = time.monotonic()
        with server.engine.begin() as conn:
            key_id = next(k["id"] for k in apikeys.list_keys(conn) if k["role"] == "agent")
            apikeys.revoke_key(conn, key_id, revoked_by="cli:ops")
        await asyncio.sleep(1.6)
        hit = await server.client.post("/v1/decisions", json=WRITE, headers=headers)  # starts the re-read
        assert hit.status_code == 200, "still inside its cache time"
        while (await server.client.post("/v1/decisions", json=WRITE, headers=headers)).status_code == 200:
            await asyncio.sleep(0.02)
        assert time.monotonic() - cached_at < 3.0, "refused before the entry lapsed"
        error_body(await server.client.post("/v1/decisions", json=WRITE, headers=headers), 401)
