"""`andon keys` and `andon users` on a real store; `andon serve` on a real port with no configuration."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from andon.cli.main import cli
from andon.errors import ConfigError
from andon.server.users import authenticate_user, bootstrap_admin
from andon.store import create_engine


@pytest.fixture
def store_env(db: tuple[str, str | None], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str | None]:
    url, schema = db
    monkeypatch.setenv("ANDON_DATABASE_URL", url)
    if schema:
        monkeypatch.setenv("ANDON_DATABASE_SCHEMA", schema)
    return url, schema


def run(*args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_keys_create_list_revoke(store_env: tuple[str, str | None]) -> None:
    created = json.loads(
        run("keys", "create", "--name", "triage", "--role", "agent", "--workflow", "support-triage",
            "--owner", "svc-triage", "--expires-in-days", "30", "-o", "json")
    )  # fmt: skip
    secret = created["key"]
    assert secret.startswith("andon_") and created["workflows"] == ["support-triage"]
    assert created["owner"] == "svc-triage" and created["expires_at"]

    listed = run("keys", "list", "-o", "json")
    assert secret not in listed
    assert [k["id"] for k in json.loads(listed)] == [created["id"]]
    assert created["id"] in run("keys", "list")

    revoked = json.loads(run("keys", "revoke", created["id"], "-o", "json"))
    assert revoked["revoked_at"] and revoked["revoked_by"].startswith("cli")
    assert json.loads(run("keys", "list", "--active", "-o", "json")) == []


def test_keys_text_output_prints_the_key_once(store_env: tuple[str, str | None]) -> None:
    out = run("keys", "create", "--name", "ops", "--role", "responder")
    secret = re.search(r"andon_\S+", out)
    assert secret, out
    assert secret.group(0) not in run("keys", "list")


def test_refusals_are_plain_errors(store_env: tuple[str, str | None]) -> None:
    with pytest.raises(ConfigError, match="agent key must be scoped"):
        CliRunner().invoke(cli, ["keys", "create", "--name", "a", "--role", "agent"], catch_exceptions=False)
    missing = CliRunner().invoke(cli, ["keys", "revoke", "key_nope"])
    assert missing.exit_code == 1 and "no API key 'key_nope'" in missing.output


def test_users_create_then_the_password_works(store_env: tuple[str, str | None]) -> None:
    out = run(
        "users", "create", "dana", "--role", "approver", "--password-stdin", input="a long passphrase\n"
    )
    assert "dana (approver)" in out
    url, schema = store_env
    engine = create_engine(url, schema=schema)
    with engine.begin() as conn:
        assert authenticate_user(conn, username="dana", password="a long passphrase") is not None
        assert authenticate_user(conn, username="dana", password="wrong") is None
        assert bootstrap_admin(conn) is None, "no bootstrap admin once a user exists"
    engine.dispose()
    with pytest.raises(ConfigError, match="too short"):
        CliRunner().invoke(
            cli, ["users", "create", "eve", "--password-stdin"], input="short\n", catch_exceptions=False
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_works_with_no_configuration(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANDON_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "andon", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == f"Andon console: http://127.0.0.1:{port}/console/", first
        password = re.search(r"user 'admin' with password (\S+)", proc.stdout.readline())
        assert password, "the first run prints the bootstrap admin's password"
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert health.json()["store"] == "sqlite" and health.json()["schema_revision"]
        assert (tmp_path / ".andon" / "andon.db").exists()
        with httpx.Client(base_url=base) as client:
            page = client.get("/console/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token
            login = client.post(
                "/console/login",
                data={"username": "admin", "password": password.group(1), "csrf_token": token.group(1)},
            )
            assert login.status_code == 303
            assert client.get("/v1/whoami").json()["actor"] == "admin"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
