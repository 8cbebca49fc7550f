"""``andon serve``, ``andon keys create|list|revoke`` and ``andon users create``.

Key and user commands work on the store directly ($ANDON_DATABASE_URL, or SQLite under
$ANDON_DATA_DIR), so an operator on the server can mint the first key before any exists.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

import click

from andon.server.principals import HUMAN_ROLES, ROLES

OUTPUT = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in some containers
        return "cli"


def _open() -> Any:
    """The store the server would use (same settings), migrated."""
    from andon.server.settings import Settings
    from andon.store import create_engine, migrate

    settings = Settings.from_env()
    engine = create_engine(settings.database_url, schema=settings.database_schema)
    migrate(engine)
    return engine


def console_url(host: str, port: int) -> str:
    """The URL a person on this machine should open for a server bound to ``host``."""
    shown = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/console/"


@click.command()
@click.option("--host", default=None, help="Address to listen on [env ANDON_HOST; default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port to listen on [env ANDON_PORT; default 8787].")
def serve(host: str | None, port: int | None) -> None:
    """Run the Andon server: the /v1 API, the web console, /metrics and /healthz.

    With no configuration it keeps its store in SQLite under $ANDON_DATA_DIR (default ./.andon). On a
    store without users it creates the console user 'admin' and prints its password once.
    """
    from andon.server import wire
    from andon.server.app import create_app
    from andon.server.settings import Settings
    from andon.server.users import bootstrap_admin

    settings = Settings.from_env(host=host, port=port)
    engine = _open()
    try:
        with engine.begin() as conn:
            password = bootstrap_admin(conn)
    finally:
        engine.dispose()
    click.echo(f"Andon console: {console_url(settings.host, settings.port)}")
    if password is not None:
        click.echo(f"First run: created console user 'admin' with password {password}")
        click.echo("  (shown only now; add people with `andon users create NAME --role ROLE`)")
    sys.stdout.flush()
    # The serving process signs a checkpoint every second while events arrive (issue: tamper evidence
    # must not wait for someone to ask for it).
    from andon.ledger.checkpoint import Checkpointer
    from andon.ledger.keys import signing_key

    signer_engine = _open()
    try:
        with Checkpointer(signer_engine, signer=signing_key()):
            wire.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")
    finally:
        signer_engine.dispose()


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (the store is $ANDON_DATABASE_URL)."""


@keys.command("create")
@click.option("--name", required=True, help="What the key is for, e.g. 'triage agent, production'.")
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the key may do.")
@click.option("--owner", default=None, help="Who answers for the key; recorded on its changes.")
@click.option(
    "--workflow", "workflows", multiple=True, help="Scope to this workflow (repeatable); agent keys need one."
)
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None, help="Expire after N days.")
@OUTPUT
def keys_create(
    name: str,
    role: str,
    owner: str | None,
    workflows: tuple[str, ...],
    expires_in_days: int | None,
    output: str,
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from datetime import timedelta

    from andon.server.apikeys import create_key
    from andon.store.types import utcnow

    expires_at = None if expires_in_days is None else utcnow() + timedelta(days=expires_in_days)
    engine = _open()
    try:
        with engine.begin() as conn:
            new = create_key(
                conn,
                name=name,
                role=role,
                owner=owner,
                workflows=list(workflows) or None,
                expires_at=expires_at,
                created_by=_actor(),
            )
    finally:
        engine.dispose()
    if output == "json":
        click.echo(json.dumps({**new.record, "key": new.secret}, indent=2))
        return
    click.echo(f"Created {new.record['id']} ({role}) for {new.record['owner']}.")
    click.echo("The key is shown only now; Andon keeps only its hash:")
    click.echo(new.secret)


@keys.command("list")
@click.option("--active", is_flag=True, help="Leave out revoked keys.")
@OUTPUT
def keys_list(active: bool, output: str) -> None:
    """List API keys (never the keys themselves)."""
    from andon.server.apikeys import list_keys

    engine = _open()
    try:
        with engine.begin() as conn:
            records = list_keys(conn, include_revoked=not active)
    finally:
        engine.dispose()
    if output == "json":
        click.echo(json.dumps(records, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "owner", "role", "workflows", "expires", "status")
    table.add_column("id", no_wrap=True)
    for r in records:
        status = f"revoked by {r['revoked_by']}" if r["revoked_at"] else "active"
        scope = ", ".join(r["workflows"]) if r["workflows"] else "all"
        table.add_row(r["name"], r["owner"], r["role"], scope, r["expires_at"] or "never", status, r["id"])
    Console().print(table)


@keys.command("revoke")
@click.argument("key_id")
@OUTPUT
def keys_revoke(key_id: str, output: str) -> None:
    """Revoke the key KEY_ID at once (its record stays, with who revoked it and when)."""
    from andon.server.apikeys import revoke_key

    engine = _open()
    try:
        with engine.begin() as conn:
            record = revoke_key(conn, key_id, revoked_by=_actor())
    finally:
        engine.dispose()
    if record is None:
        raise click.ClickException(f"no API key {key_id!r}; `andon keys list` shows the ids")
    if output == "json":
        click.echo(json.dumps(record, indent=2))
    else:
        click.echo(f"Revoked {key_id} at {record['revoked_at']} (by {record['revoked_by']}).")


@click.group()
def users() -> None:
    """Manage the people who log in to the web console."""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(HUMAN_ROLES), default="viewer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_create(username: str, role: str, password_stdin: bool) -> None:
    """Create console user USERNAME; asks for the password unless --password-stdin."""
    from andon.server.users import create_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = _open()
    try:
        with engine.begin() as conn:
            user = create_user(conn, username=username, password=password, role=role, created_by=_actor())
    finally:
        engine.dispose()
    click.echo(f"Created console user {user.username} ({user.role}).")
