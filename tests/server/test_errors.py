"""Every failure answers with the one JSON error body: {"ok": false, "error", "errors", "status"}."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi import FastAPI

from andon.server.app import create_app
from andon.server.settings import Settings

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, RunApp, Server

pytestmark = pytest.mark.anyio


async def test_unknown_route_is_404_with_the_body(server: Server, error_body: ErrorBody) -> None:
    body = error_body(await server.client.get("/v1/no-such-thing"), 404)
    assert "/v1/no-such-thing" in body["error"]


async def test_wrong_method_is_405_with_the_body(server: Server, error_body: ErrorBody) -> None:
    body = error_body(await server.client.put("/healthz"), 405)
    assert "PUT" in body["error"]


async def test_missing_credentials_are_401_with_the_body(server: Server, error_body: ErrorBody) -> None:
    response = await server.client.get("/v1/keys")
    body = error_body(response, 401)
    assert body["errors"][0]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_role_too_low_is_403_with_the_body(server: Server, error_body: ErrorBody) -> None:
    body = error_body(await server.client.get("/v1/keys", headers=server.auth("approver")), 403)
    assert "'admin'" in body["error"] and "'approver'" in body["error"]


async def test_validation_errors_list_every_problem_with_its_location(
    server: Server, error_body: ErrorBody
) -> None:
    response = await server.client.post(
        "/v1/keys", headers=server.auth("admin"), json={"role": "wizard", "expires_in_days": 0}
    )
    body = error_body(response, 422)
    locations = {item["location"] for item in body["errors"]}
    assert {"body.name", "body.role", "body.expires_in_days"} <= locations
    assert body["error"].startswith("invalid request: ")


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/v1/events/9223372036854775808", "path.index"),
        ("/v1/events?after=9223372036854775808", "query.after"),
        ("/v1/runbook/revisions/9223372036854775808", "path.revision"),
        ("/console/audit/9223372036854775808", "path.index"),
    ],
)
async def test_numbers_beyond_64_bits_are_422_naming_the_parameter(
    server: Server, error_body: ErrorBody, path: str, location: str
) -> None:
    """Found by the fuzz run: an index past what the store holds overflowed inside the driver (500)."""
    body = error_body(await server.client.get(path, headers=server.auth("admin")), 422)
    assert [item["location"] for item in body["errors"]] == [location]


async def test_malformed_json_is_422_with_the_body(server: Server, error_body: ErrorBody) -> None:
    response = await server.client.post(
        "/v1/keys",
        headers={**server.auth("admin"), "content-type": "application/json"},
        content=b'{"name": ',
    )
    error_body(response, 422)


async def test_not_found_raised_by_a_route_uses_the_body(server: Server, error_body: ErrorBody) -> None:
    body = error_body(await server.client.get("/v1/keys/key_missing", headers=server.auth("admin")), 404)
    assert "key_missing" in body["error"]


async def test_domain_errors_become_the_body(server: Server, error_body: ErrorBody) -> None:
    # The keys service refuses an expiry in the past (ConfigError) after the request itself validated.
    response = await server.client.post(
        "/v1/keys",
        headers=server.auth("admin"),
        json={"name": "late", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"},
    )
    body = error_body(response, 400)
    assert "in the past" in body["error"]


async def test_a_crash_is_500_with_the_body_and_no_traceback(
    settings: Settings, run_app: RunApp, error_body: ErrorBody, caplog: pytest.LogCaptureFixture
) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("secret internal detail in /srv/andon/handlers.py")

    async with run_app(app) as srv:
        response = await srv.client.get("/crash")
    body = error_body(response, 500)
    text = response.text
    assert "Traceback" not in text and "secret internal detail" not in text and ".py" not in text
    assert body["errors"][0]["code"] == "internal_server_error"
    assert "secret internal detail" in caplog.text, "the traceback belongs in the server log"
