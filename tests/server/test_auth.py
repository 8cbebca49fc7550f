"""API keys: hash-only storage, expiry, revocation, workflow scope, and no secret in any log."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import pytest
import sqlalchemy as sa
from fastapi import Depends

from andon.server import apikeys
from andon.server.app import create_app
from andon.server.auth import require
from andon.server.principals import Principal
from andon.server.settings import Settings
from andon.store.tables import api_keys, metadata
from andon.store.types import utcnow

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, RunApp, Server

pytestmark = pytest.mark.anyio


async def create(server: Server, **body: object) -> dict[str, object]:
    response = await server.client.post("/v1/keys", headers=server.auth("admin"), json=body)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_a_new_key_is_shown_once_and_works(server: Server) -> None:
    created = await create(server, name="ops laptop", role="responder", owner="omar@acme.example")
    secret = str(created["key"])
    assert secret.startswith("andon_") and len(secret) > 40
    who = await server.client.get("/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert who.status_code == 200
    assert who.json() == {
        "kind": "key",
        "id": created["id"],
        "actor": "omar@acme.example",
        "role": "responder",
        "workflows": None,
        "expires_at": None,
    }
    listed = (await server.client.get("/v1/keys", headers=server.auth("admin"))).json()["keys"]
    shown = await server.client.get(f"/v1/keys/{created['id']}", headers=server.auth("admin"))
    assert all("key" not in record and "key_hash" not in record for record in [*listed, shown.json()])
    assert secret not in str(listed) + shown.text


async def test_only_the_hash_of_a_key_is_stored(server: Server) -> None:
    created = await create(server, name="triage agent", role="agent", workflows=["support-triage"])
    secret = str(created["key"])
    await server.client.get("/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    everything = []
    with server.engine.connect() as conn:
        for table in metadata.sorted_tables:
            everything += [repr(tuple(row)) for row in conn.execute(sa.select(table))]
        stored = conn.execute(sa.select(api_keys.c.key_hash).where(api_keys.c.id == created["id"])).scalar()
    dump = "\n".join(everything)
    assert secret not in dump and secret.removeprefix("andon_") not in dump
    assert stored == hashlib.sha256(secret.encode()).hexdigest()


async def test_an_expired_key_is_refused_even_when_just_verified(
    settings: Settings, run_app: RunApp, error_body: ErrorBody
) -> None:
    # A long cache: the refusal must come from the key's own expiry, not from reading the store again.
    async with run_app(create_app(replace(settings, key_cache_seconds=600))) as srv:
        expires_at = utcnow() + timedelta(seconds=0.5)
        headers = {"Authorization": f"Bearer {srv.new_key('viewer', expires_at=expires_at)}"}
        assert (await srv.client.get("/v1/whoami", headers=headers)).status_code == 200
        await asyncio.sleep(max(0.0, (expires_at - utcnow()).total_seconds()) + 0.05)
        body = error_body(await srv.client.get("/v1/whoami", headers=headers), 401)
        assert "expired at" in body["error"]


async def test_a_change_to_a_key_made_elsewhere_is_seen_within_the_cache_time(
    settings: Settings, run_app: RunApp, error_body: ErrorBody
) -> None:
    # Another process (the CLI, another replica) changes the row: this process trusts what it
    # verified for key_cache_seconds, then reads the store again.
    async with run_app(create_app(replace(settings, key_cache_seconds=0.3))) as srv:
        headers = {"Authorization": f"Bearer {srv.new_key('viewer', workflows=['quotes'])}"}
        key_id = (await srv.client.get("/v1/whoami", headers=headers)).json()["id"]
        with srv.engine.begin() as conn:
            conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(workflows=["refunds"]))
        assert (await srv.client.get("/v1/whoami", headers=headers)).json()["workflows"] == ["quotes"]
        await asyncio.sleep(0.35)
        assert (await srv.client.get("/v1/whoami", headers=headers)).json()["workflows"] == ["refunds"]


@pytest.mark.parametrize("cache_seconds", [0.3, 0.0])
async def test_a_key_revoked_elsewhere_works_at_most_for_the_cache_time(
    settings: Settings, run_app: RunApp, error_body: ErrorBody, cache_seconds: float
) -> None:
    async with run_app(create_app(replace(settings, key_cache_seconds=cache_seconds))) as srv:
        headers = {"Authorization": f"Bearer {srv.new_key('viewer')}"}
        key_id = (await srv.client.get("/v1/whoami", headers=headers)).json()["id"]
        with srv.engine.begin() as conn:  # as `andon keys revoke` in another process does
            apikeys.revoke_key(conn, key_id, revoked_by="cli:ops")
        if cache_seconds:
            assert (await srv.client.get("/v1/whoami", headers=headers)).status_code == 200
            await asyncio.sleep(cache_seconds + 0.05)
        body = error_body(await srv.client.get("/v1/whoami", headers=headers), 401)
        assert f"API key {key_id} was revoked" in body["error"]


async def test_a_revoked_key_stops_working_at_once(server: Server, error_body: ErrorBody) -> None:
    created = await create(server, name="leaked", role="approver")
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await server.client.get("/v1/whoami", headers=headers)).status_code == 200

    revoked = await server.client.delete(f"/v1/keys/{created['id']}", headers=server.auth("admin"))
    assert revoked.status_code == 200
    record = revoked.json()
    assert record["revoked_at"] and record["revoked_by"] == "tests"

    body = error_body(await server.client.get("/v1/whoami", headers=headers), 401)
    assert f"API key {created['id']} was revoked" in body["error"]
    again = await server.client.delete(f"/v1/keys/{created['id']}", headers=server.auth("admin"))
    assert again.json()["revoked_at"] == record["revoked_at"], "revoking twice keeps the first record"
    active = await server.client.get("/v1/keys?include_revoked=false", headers=server.auth("admin"))
    assert created["id"] not in {k["id"] for k in active.json()["keys"]}


@pytest.mark.parametrize(
    "header",
    ["Bearer andon_not-a-real-key", "Bearer sk-live-1234", "Basic YWRtaW46YWRtaW4=", "Bearer", "andon_x"],
)
async def test_bad_credentials_are_401(server: Server, error_body: ErrorBody, header: str) -> None:
    error_body(await server.client.get("/v1/whoami", headers={"Authorization": header}), 401)


async def test_agent_keys_must_name_their_workflows(server: Server, error_body: ErrorBody) -> None:
    response = await server.client.post(
        "/v1/keys", headers=server.auth("admin"), json={"name": "agent", "role": "agent"}
    )
    body = error_body(response, 422)
    assert "workflow" in body["error"]


async def test_workflow_scope_is_enforced(settings: Settings, run_app: RunApp, error_body: ErrorBody) -> None:
    app = create_app(settings)

    @app.get("/v1/scoped/{workflow_id}")
    def scoped(
        workflow_id: str,
        who: Annotated[Principal, Depends(require("viewer", workflow="workflow_id", agents=True))],
    ) -> dict[str, str]:
        return {"workflow": workflow_id, "actor": who.actor}

    async with run_app(app) as srv:
        agent = {"Authorization": f"Bearer {srv.new_key('agent', workflows=['support-triage'])}"}
        assert (await srv.client.get("/v1/scoped/support-triage", headers=agent)).status_code == 200
        body = error_body(await srv.client.get("/v1/scoped/refunds", headers=agent), 403)
        assert "'refunds'" in body["error"]
        viewer = {"Authorization": f"Bearer {srv.new_key('viewer', workflows=['quotes'])}"}
        assert (await srv.client.get("/v1/scoped/quotes", headers=viewer)).status_code == 200
        error_body(await srv.client.get("/v1/scoped/support-triage", headers=viewer), 403)
        # Unscoped keys may touch every workflow.
        assert (await srv.client.get("/v1/scoped/refunds", headers=srv.auth("viewer"))).status_code == 200


async def test_using_a_key_records_when_it_was_last_used(server: Server) -> None:
    created = await create(server, name="probe", role="viewer")
    assert created["last_used_at"] is None
    await server.client.get("/v1/whoami", headers={"Authorization": f"Bearer {created['key']}"})
    shown = await server.client.get(f"/v1/keys/{created['id']}", headers=server.auth("admin"))
    assert shown.json()["last_used_at"] is not None


async def test_no_key_or_password_reaches_the_logs(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = await create(server, name="audited", role="admin")
    secret = str(created["key"])
    headers = {"Authorization": f"Bearer {secret}"}
    await server.client.get("/v1/whoami", headers=headers)
    await server.client.get("/v1/keys", headers=headers)
    await server.client.delete(f"/v1/keys/{created['id']}", headers=headers)
    await server.client.get("/v1/whoami", headers=headers)  # refused: the refusal is logged nowhere with it
    csrf = await server.login("dana", "admin")
    assert created["id"] in caplog.text, "key events are logged, by id"
    for secret_text in (secret, secret.removeprefix("andon_"), csrf, "correct horse battery"):
        assert secret_text not in caplog.text
