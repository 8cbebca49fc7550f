"""``andon incidents``: list, show, declare, ack, contain, mitigate, resolve, close, reopen, note, check,
freeze, restore, rollback.

``andon clocks``, ``andon affected`` and ``andon review`` are in ``andon.cli.postmortem``. Commands
open the store named by --db, else $ANDON_DATABASE_URL, else the SQLite file under $ANDON_DATA_DIR;
who did it is --actor, else $ANDON_ACTOR, else cli:$USER. Evidence bundles go to
$ANDON_DATA_DIR/evidence, signed with the ledger key.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click

from andon.cli.control import (
    actor_name,
    actor_option,
    db_option,
    emit,
    output_option,
    reason_option,
    table,
    when,
)
from andon.errors import ConfigError


def open_engine(db: str | None) -> Any:
    from andon.store import database_url, open_store

    return open_store(db or database_url())


def desk(db: str | None) -> Any:
    from andon.incidents.service import IncidentDesk

    return IncidentDesk(open_engine(db))


def _now() -> datetime:
    return datetime.now(UTC)


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def incident_row(incident: Any) -> list[Any]:
    return [
        incident.id,
        incident.state,
        incident.severity,
        incident.incident_class,
        incident.workflow or "—",
        incident.owners.get("incident") or "—",
        ago(incident.opened_at),
        incident.title,
    ]


INCIDENT_COLUMNS = ["id", "state", "severity", "class", "workflow", "owner", "opened", "title"]


@click.group("incidents", invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Include resolved and closed incidents.")
@output_option
@db_option
@click.pass_context
def incidents(ctx: click.Context, show_all: bool, output: str, db: str | None) -> None:
    """Incidents: declared by people or opened by detectors. Without a subcommand: list the open ones."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(list_cmd, show_all=show_all, state=None, output=output, db=db)


@incidents.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include resolved and closed incidents.")
@click.option("--state", default=None, help="Only incidents in this state.")
@output_option
@db_option
def list_cmd(show_all: bool, state: str | None, output: str, db: str | None) -> None:
    """List incidents, newest first (open ones unless --all or --state)."""
    from andon.incidents.records import list_incidents
    from andon.store import reading

    with reading(open_engine(db)) as conn:
        found = list_incidents(conn, state=state, open_only=not show_all and state is None)
    title = f"{len(found)} incident(s)" + ("" if show_all or state else " open")
    emit(
        output, [i.as_dict() for i in found], table(title, INCIDENT_COLUMNS, [incident_row(i) for i in found])
    )


@incidents.command("show")
@click.argument("incident")
@output_option
@db_option
def show(incident: str, output: str, db: str | None) -> None:
    """One incident: owners, checklist, containment, evidence freezes and its timeline."""
    from andon.incidents.views import incident_view
    from andon.store import reading

    with reading(open_engine(db)) as conn:
        view = incident_view(conn, incident, now=_now())
    if output == "json":
        emit(output, view, "")
        return
    from rich.console import Console

    console = Console()
    found = view["incident"]
    console.print(f"[bold]{found['id']}[/bold] {found['title']} — {found['state']}, {found['severity']}")
    console.print(
        f"{found['summary']}\nWorkflow: {found['workflow']}; runbook revision {found['runbook_revision']}"
    )
    console.print("Owners: " + ", ".join(f"{k} {v}" for k, v in found["owners"].items() if v))
    items = [
        [
            i["position"],
            i["text"],
            i["owner"] or i["owner_role"],
            f"{i['done_by']} {i['done_at']}" if i["done"] else "",
        ]
        for i in view["checklist"]
    ]
    console.print(table("First-hour checklist", ["#", "do", "owner", "done"], items))
    console.print(
        table(
            "Containment and recovery",
            ["action", "target", "status", "by", "at"],
            [[a["action"], a["target"], a["status"], a["actor"], a["at"]] for a in view["actions"]],
        )
    )
    console.print(
        table(
            "Evidence frozen",
            ["purpose", "sha256", "events", "path"],
            [[f["purpose"], f["sha256"], f["events"], f["path"]] for f in view["freezes"]],
        )
    )
    console.print(
        table(
            "Timeline (ledger)",
            ["#", "time", "kind", "actor", "what"],
            [
                [e["index"], e["time"][:19], e["kind"], e["actor"], e["summary"]]
                for e in view["timeline"][-40:]
            ],
        )
    )


@incidents.command("declare")
@click.option("--class", "incident_class", required=True, help="Incident class id from the runbook.")
@click.option("--workflow", "-w", default=None, help="The workflow it concerns.")
@click.option("--summary", "-s", required=True, help="What is happening.")
@click.option("--severity", default=None, help="Override the class's default severity.")
@click.option("--title", default=None)
@click.option("--since", default=None, help="Start of the incident window: ISO time or duration ago (2h).")
@click.option("--no-contain", is_flag=True, help="Do not pull the class's automatic containment.")
@actor_option
@output_option
@db_option
def declare(
    incident_class: str,
    workflow: str | None,
    summary: str,
    severity: str | None,
    title: str | None,
    since: str | None,
    no_contain: bool,
    actor: str | None,
    output: str,
    db: str | None,
) -> None:
    """Open an incident; the class's automatic containment runs and the evidence is frozen."""
    opened = desk(db).declare(
        incident_class=incident_class,
        workflow=workflow,
        summary=summary,
        actor=actor_name(actor),
        severity=severity,
        title=title,
        since=when(since),
        contain=not no_contain,
    )
    found = opened.incident
    lines = [f"opened {found.id} ({found.severity}, {found.state}); owner {found.owners.get('incident')}"]
    lines += [f"  {a.action} {a.target or ''} {a.status}" for a in opened.containment]
    lines.append(
        f"  evidence frozen: {opened.freeze.sha256}" if opened.freeze else f"  {opened.freeze_error}"
    )
    data = {
        "incident": found.as_dict(),
        "containment": [a.as_dict() for a in opened.containment],
        "freeze": opened.freeze.as_dict() if opened.freeze else None,
        "freeze_error": opened.freeze_error,
    }
    emit(output, data, "\n".join(lines))


def _step(fn: Callable[..., Any], incident: str, db: str | None, **kwargs: Any) -> Any:
    with open_engine(db).begin() as conn:
        return fn(conn, incident, now=_now(), **kwargs)


@incidents.command("ack")
@click.argument("incident")
@actor_option
@db_option
def ack(incident: str, actor: str | None, db: str | None) -> None:
    """Acknowledge: you have the incident."""
    from andon.incidents.lifecycle import acknowledge

    found = _step(acknowledge, incident, db, actor=actor_name(actor))
    click.echo(f"{found.id} acknowledged by {found.acknowledged_by} at {ago(found.acknowledged_at)}")


@incidents.command("contain")
@click.argument("incident")
@click.argument(
    "action",
    type=click.Choice(
        [
            "pause_workflow",
            "freeze_writes",
            "block_tool",
            "block_external_sends",
            "block_retrieval_source",
            "revoke_credential",
            "cap_autonomy",
        ]
    ),
)
@click.option("--target", default=None, help="The tool, source, credential or autonomy level.")
@reason_option
@actor_option
@db_option
def contain_cmd(
    incident: str, action: str, target: str | None, reason: str, actor: str | None, db: str | None
) -> None:
    """Pull one switch for the incident's workflow (one-click containment)."""
    from andon.incidents.containment import contain

    taken = _step(contain, incident, db, action=action, target=target, actor=actor_name(actor), reason=reason)
    click.echo(f"{action} {taken.target or ''} applied ({taken.switch_id})")


def _move(state: str) -> Callable[..., None]:
    @click.argument("incident")
    @reason_option
    @actor_option
    @db_option
    def command(incident: str, reason: str, actor: str | None, db: str | None) -> None:
        from andon.incidents.lifecycle import transition

        found = _step(transition, incident, db, to=state, actor=actor_name(actor), reason=reason)
        click.echo(f"{found.id} is {found.state}")

    command.__doc__ = f"Move the incident forward to {state}."
    return command


for _state in ("mitigated", "resolved", "closed"):
    incidents.command({"mitigated": "mitigate", "resolved": "resolve", "closed": "close"}[_state])(
        _move(_state)
    )


@incidents.command("reopen")
@click.argument("incident")
@reason_option
@actor_option
@db_option
def reopen_cmd(incident: str, reason: str, actor: str | None, db: str | None) -> None:
    """Take a resolved incident back to triage."""
    from andon.incidents.lifecycle import reopen

    found = _step(reopen, incident, db, actor=actor_name(actor), reason=reason)
    click.echo(f"{found.id} is {found.state} again")


@incidents.command("note")
@click.argument("incident")
@click.argument("text")
@actor_option
@db_option
def note(incident: str, text: str, actor: str | None, db: str | None) -> None:
    """Add a note to the timeline (a ledger event; nothing on the timeline is editable)."""
    from andon.incidents.lifecycle import add_note

    index = _step(add_note, incident, db, text=text, actor=actor_name(actor))
    click.echo(f"note recorded as ledger event {index}")


@incidents.command("check")
@click.argument("incident")
@click.argument("item", type=int)
@click.option("--undo", is_flag=True, help="Mark the item not done again.")
@actor_option
@db_option
def check(incident: str, item: int, undo: bool, actor: str | None, db: str | None) -> None:
    """Tick first-hour checklist ITEM done."""
    from andon.incidents.checklist import mark_item
    from andon.incidents.records import get_incident

    with open_engine(db).begin() as conn:
        found = mark_item(
            conn, get_incident(conn, incident), item, done=not undo, actor=actor_name(actor), now=_now()
        )
    click.echo(f"{item}. {found.text}: {'done' if found.done else 'not done'}")


@incidents.command("freeze")
@click.argument("incident")
@actor_option
@db_option
def freeze_cmd(incident: str, actor: str | None, db: str | None) -> None:
    """Freeze the incident's evidence now (a signed bundle; its SHA-256 goes into the ledger)."""
    frozen = desk(db).freeze(incident, actor=actor_name(actor))
    click.echo(f"{frozen.events} events frozen: {frozen.path}\nsha256 {frozen.sha256}")


@incidents.command("restore")
@click.argument("incident")
@click.option(
    "--kind", type=click.Choice(["prompt", "model", "ruleset"]), default="prompt", show_default=True
)
@click.option("--name", required=True, help="The prompt, model or ruleset name.")
@click.option("--to", "to", default="last-approved", show_default=True, help="A version, or last-approved.")
@reason_option
@actor_option
@db_option
def restore_cmd(
    incident: str, kind: str, name: str, to: str, reason: str, actor: str | None, db: str | None
) -> None:
    """Freeze the evidence, then restore the version (refused if the freeze fails)."""
    step, frozen = desk(db).restore(
        incident, kind=kind, name=name, to=to, actor=actor_name(actor), reason=reason
    )
    click.echo(f"evidence frozen ({frozen.sha256[:16]}…); live is now {step.target}")


@incidents.command("rollback")
@click.argument("incident")
@click.option(
    "--tools", "target", required=True, metavar="MODULE:ATTR", help="Your Andon client with the undos."
)
@click.option("--version", default=None, help="Only actions made under this version ref.")
@reason_option
@actor_option
@db_option
def rollback_cmd(
    incident: str, target: str, version: str | None, reason: str, actor: str | None, db: str | None
) -> None:
    """Freeze the evidence, then undo the workflow's actions in the incident window, newest first."""
    from andon.sdk.client import Andon

    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    client = getattr(importlib.import_module(module_name), attr or "andon", None)
    if not isinstance(client, Andon):
        raise ConfigError(f"--tools {target}: no Andon client there; name it as module:attribute")
    step, report = desk(db).rollback(
        incident, client, actor=actor_name(actor), reason=reason, version=version, progress=True
    )
    click.echo(
        f"{step.status}: {len(report.rolled_back)} rolled back, {len(report.conflicts)} conflicts, "
        f"{len(report.failed)} failed, {len(report.skipped)} skipped (evidence frozen first: "
        f"{step.freeze_id})"
    )


@incidents.command("update")
@click.argument("incident")
@click.option("--severity", default=None, help="A severity id from the pinned runbook.")
@click.option(
    "--data-classes", default=None, help="Comma-separated data classes involved (sets the regimes)."
)
@click.option("--suspect-versions", default=None, help="Comma-separated version refs, e.g. prompt:x@v2.")
@click.option("--related", default=None, help="An earlier incident this one recurs.")
@reason_option
@actor_option
@db_option
def update_cmd(
    incident: str,
    severity: str | None,
    data_classes: str | None,
    suspect_versions: str | None,
    related: str | None,
    reason: str,
    actor: str | None,
    db: str | None,
) -> None:
    """Change the severity, the data classes involved, the suspect versions or the related incident."""
    from andon.incidents.lifecycle import update

    def split(text: str | None) -> list[str] | None:
        return None if text is None else [part.strip() for part in text.split(",") if part.strip()]

    found = _step(
        update,
        incident,
        db,
        actor=actor_name(actor),
        reason=reason,
        severity=severity,
        data_classes=split(data_classes),
        suspect_versions=split(suspect_versions),
        related=related,
    )
    click.echo(
        f"{found.id}: {found.severity}; data classes {', '.join(found.data_classes) or 'none'}; "
        f"suspect versions {', '.join(found.suspect_versions) or 'none'}"
    )
