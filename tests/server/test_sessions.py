"""Console login: server-side sessions, HttpOnly SameSite=Strict cookies, CSRF on every unsafe request."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from andon.server.sessions import SESSION_COOKIE
from andon.store.tables import console_sessions
from andon.store.types import utcnow

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, Server

pytestmark = pytest.mark.anyio


async def test_login_sets_a_strict_httponly_session_cookie(server: Server) -> None:
    server.new_user("dana", "responder")
    token = await server.login_form_token()
    response = await server.client.post(
        "/console/login",
        data={
            "username": "dana",
            "password": server.password,
            "csrf_token": token,
            "next": "/console/",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE + "="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    overview = await server.client.get("/console/")
    assert overview.status_code == 200 and "dana" in overview.text and "responder" in overview.text
    who = await server.client.get("/v1/whoami")
    assert who.json()["kind"] == "user" and who.json()["actor"] == "dana"


async def test_the_session_token_is_stored_only_as_a_hash(server: Server) -> None:
    await server.login("omar")
    token = server.client.cookies[SESSION_COOKIE]
    with server.engine.connect() as conn:
        stored = conn.execute(sa.select(console_sessions.c.token_hash)).scalars().all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]


async def test_wrong_password_and_unknown_user_look_the_same(server: Server) -> None:
    server.new_user("dana", "viewer")
    for username, password in (("dana", "not the password"), ("nobody", server.password)):
        token = await server.login_form_token()
        response = await server.client.post(
            "/console/login", data={"username": username, "password": password, "csrf_token": token}
        )
        assert response.status_code == 401
        assert "Wrong username or password." in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


async def test_login_without_the_form_token_is_refused(server: Server) -> None:
    server.new_user("dana", "admin")
    await server.client.get("/console/login")
    response = await server.client.post(
        "/console/login", data={"username": "dana", "password": server.password, "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in server.client.cookies


async def test_unsafe_requests_without_the_csrf_token_are_refused(
    server: Server, error_body: ErrorBody
) -> None:
    csrf = await server.login("dana", "admin")
    body = {"name": "from the console", "role": "viewer"}

    missing = await server.client.post("/v1/keys", json=body)
    assert error_body(missing, 403)["errors"][0]["code"] == "csrf_failed"
    wrong = await server.client.post("/v1/keys", json=body, headers={"X-CSRF-Token": csrf[::-1]})
    error_body(wrong, 403)
    form = await server.client.post("/console/keys", data={"name": "x", "role": "viewer"})
    error_body(form, 403)
    with server.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from api_keys")).scalar() == 0, "nothing was created"

    ok = await server.client.post("/v1/keys", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201, ok.text
    assert ok.json()["created_by"] == "dana"
    # Reads need no token.
    assert (await server.client.get("/v1/keys")).status_code == 200


async def test_console_forms_carry_the_token_and_show_a_new_key_once(server: Server) -> None:
    csrf = await server.login("dana", "admin")
    created = await server.client.post(
        "/console/keys",
        data={"name": "triage", "role": "agent", "workflows": "support-triage, refunds", "csrf_token": csrf},
    )
    assert created.status_code == 201, created.text
    secret = created.text.split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith("andon_")
    who = await server.client.get("/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    assert who.json()["workflows"] == ["refunds", "support-triage"]

    listing = await server.client.get("/console/keys")
    assert "triage" in listing.text and secret not in listing.text
    key_id = who.json()["id"]
    revoked = await server.client.post(f"/console/keys/{key_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert (
        await server.client.get("/v1/whoami", headers={"Authorization": f"Bearer {secret}"})
    ).status_code == 401


async def test_console_pages_send_a_browser_without_a_session_to_login(server: Server) -> None:
    response = await server.client.get("/console/keys")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console/keys"


async def test_login_redirects_only_to_console_paths(server: Server) -> None:
    server.new_user("dana", "viewer")
    for target, expected in (("https://evil.example/", "/console/"), ("/console/keys", "/console/keys")):
        token = await server.login_form_token()
        response = await server.client.post(
            "/console/login",
            data={
                "username": "dana",
                "password": server.password,
                "csrf_token": token,
                "next": target,
            },
        )
        assert response.headers["location"] == expected


async def test_logout_ends_the_session_in_the_store(server: Server, error_body: ErrorBody) -> None:
    csrf = await server.login("dana", "viewer")
    token = server.client.cookies[SESSION_COOKIE]
    refused = await server.client.post("/console/logout")
    error_body(refused, 403)
    response = await server.client.post("/console/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    server.client.cookies.set(SESSION_COOKIE, token)  # a copied cookie is dead too
    error_body(await server.client.get("/v1/whoami"), 401)


async def test_an_expired_session_is_refused(server: Server, error_body: ErrorBody) -> None:
    await server.login("dana", "admin")
    with server.engine.begin() as conn:
        conn.execute(console_sessions.update().values(expires_at=utcnow() - timedelta(seconds=1)))
    body = error_body(await server.client.get("/v1/whoami"), 401)
    assert "session has ended" in body["error"]


async def test_the_nav_shows_only_what_the_role_may_open(server: Server, error_body: ErrorBody) -> None:
    await server.login("vic", "viewer")
    overview = await server.client.get("/console/")
    assert 'href="/console/keys"' not in overview.text
    error_body(await server.client.get("/console/keys"), 403)


async def test_console_pages_cannot_be_framed(server: Server) -> None:
    for path in ("/console/login", "/console/static/andon.css"):
        response = await server.client.get(path)
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    api = await server.client.get("/healthz")
    assert api.headers["x-content-type-options"] == "nosniff" and "content-security-policy" not in api.headers
