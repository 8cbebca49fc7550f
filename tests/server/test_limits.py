"""Request bodies above the limit get 413 and the JSON error body, announced or not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from andon.server.app import create_app
from andon.server.settings import Settings

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, RunApp, Server

pytestmark = pytest.mark.anyio


async def test_default_limit_refuses_a_body_over_one_mebibyte(server: Server, error_body: ErrorBody) -> None:
    response = await server.client.post(
        "/v1/keys", headers=server.auth("admin"), content=b"x" * (1024 * 1024 + 1)
    )
    body = error_body(response, 413)
    assert "1048576 bytes" in body["error"]


async def test_the_limit_is_configurable_and_holds_without_content_length(
    settings: Settings, run_app: RunApp, error_body: ErrorBody
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b'{"name": "' + b"y" * 100 + b'"}'

    async with run_app(create_app(replace(settings, max_body_bytes=256))) as srv:
        # A streamed body has no Content-Length: the limit must count what actually arrives.
        streamed = await srv.client.post("/v1/keys", headers=srv.auth("admin"), content=chunks())
        assert "content-length" not in streamed.request.headers
        error_body(streamed, 413)

        small = await srv.client.post(
            "/v1/keys", headers=srv.auth("admin"), json={"name": "ok", "role": "viewer"}
        )
        assert small.status_code == 201, small.text


async def test_bodies_under_the_limit_reach_the_route_intact(server: Server) -> None:
    name = "n" * 200
    response = await server.client.post(
        "/v1/keys", headers=server.auth("admin"), json={"name": name, "role": "responder"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name
