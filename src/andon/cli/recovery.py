"""``andon versions list|publish|approve|restore`` and ``andon rollback plan|run``.

Same store, actor and output conventions as ``andon.cli.control``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from andon.cli.control import (
    actor_name,
    actor_option,
    db_option,
    emit,
    open_control,
    output_option,
    reason_option,
    table,
    when,
)
from andon.errors import ConfigError


# -- versions -------------------------------------------------------------------------------------
@click.group("versions")
def versions() -> None:
    """Immutable prompt / model / ruleset versions and the `live` label."""


@versions.command("list")
@click.argument("workflow")
@click.option("--kind", type=click.Choice(["prompt", "model", "ruleset"]), default=None)
@click.option("--name", default=None)
@output_option
@db_option
def versions_list(workflow: str, kind: str | None, name: str | None, output: str, db: str | None) -> None:
    """Every version of WORKFLOW, the live one marked."""
    found = open_control(db).list_versions(workflow=workflow, kind=kind, name=name)
    rows = [
        [
            "●" if v.live else "",
            v.ref,
            v.id,
            v.created_by,
            f"{v.created_at:%Y-%m-%d %H:%M}",
            v.approved_by or "—",
            v.digest[:12],
        ]
        for v in found
    ]
    listing = table(
        f"Versions of {workflow}", ["live", "version", "id", "by", "at (UTC)", "approved by", "digest"], rows
    )
    emit(output, [v.as_dict() for v in found], listing if rows else "no versions published")


@versions.command("publish")
@click.argument("workflow")
@click.argument("kind", type=click.Choice(["prompt", "model", "ruleset"]))
@click.argument("name")
@click.option(
    "--file", "path", type=click.Path(exists=True, dir_okay=False), help="Read the content from a file."
)
@click.option("--content", default=None, help="The content itself (text, or JSON with --json).")
@click.option("--json", "as_json", is_flag=True, help="The content is JSON (model parameters, rulesets).")
@click.option("--version", "label", default=None, help="Version name (default: v1, v2, ...).")
@click.option("--live", is_flag=True, help="Make it live at once (unapproved).")
@actor_option
@db_option
def versions_publish(
    workflow: str,
    kind: str,
    name: str,
    path: str | None,
    content: str | None,
    as_json: bool,
    label: str | None,
    live: bool,
    actor: str | None,
    db: str | None,
) -> None:
    """Publish a new immutable version of a prompt, model or ruleset."""
    if (path is None) == (content is None):
        raise ConfigError("give the content with exactly one of --file or --content")
    text = content if content is not None else Path(path or "").read_text(encoding="utf-8")
    value: Any = json.loads(text) if as_json else text
    v = open_control(db).publish_version(
        workflow=workflow,
        kind=kind,
        name=name,
        content=value,
        actor=actor_name(actor),
        version=label,
        live=live,
    )
    click.echo(f"published {v.ref} ({v.id}){' — live' if v.live else ''}")


@versions.command("approve")
@click.argument("version_id")
@click.option("--live", is_flag=True, help="Also make it live.")
@actor_option
@db_option
def versions_approve(version_id: str, live: bool, actor: str | None, db: str | None) -> None:
    """Approve a version (not your own)."""
    v = open_control(db).approve_version(version_id, actor=actor_name(actor), live=live)
    click.echo(f"approved {v.ref}{' — live' if v.live else ''}")


@versions.command("restore")
@click.argument("workflow")
@click.argument("kind", type=click.Choice(["prompt", "model", "ruleset"]))
@click.argument("name")
@click.option(
    "--to", "to", default="last-approved", show_default=True, help="last-approved, or a version name."
)
@reason_option
@actor_option
@db_option
def versions_restore(
    workflow: str, kind: str, name: str, to: str, reason: str, actor: str | None, db: str | None
) -> None:
    """Move `live` back in one step; agents read it on their next model call."""
    v = open_control(db).restore_version(
        workflow=workflow, kind=kind, name=name, to=to, actor=actor_name(actor), reason=reason
    )
    click.echo(f"{v.ref} is live again ({v.id})")


# -- rollback -------------------------------------------------------------------------------------
def _selection(
    workflow: str | None, since: str | None, until: str | None, version: str | None, run_id: str | None
) -> Any:
    from andon.control.rollback import Selection

    return Selection(workflow=workflow, since=when(since), until=when(until), version=version, run_id=run_id)


def _select_options(fn: Any) -> Any:
    for option in reversed(
        [
            click.option("--workflow", "-w", default=None),
            click.option("--since", default=None, help="ISO time, or a duration ago (2h)."),
            click.option("--until", default=None, help="ISO time, or a duration ago."),
            click.option(
                "--version", default=None, help="Actions made under this version, e.g. prompt:triage@v4."
            ),
            click.option("--run", "run_id", default=None, help="Actions of one run."),
        ]
    ):
        fn = option(fn)
    return fn


@click.group("rollback")
def rollback() -> None:
    """Undo the records an agent changed: plan (dry run), then run."""


def _incident_selection(control: Any, ident: str, *, version: str | None, run_id: str | None) -> Any:
    """What ``andon incidents rollback`` would undo: the incident's workflow from its window start to now."""
    from datetime import UTC, datetime

    from andon.control.rollback import Selection
    from andon.incidents.records import get_incident
    from andon.store import reading

    with reading(control.engine) as conn:
        incident = get_incident(conn, ident)
    if incident.workflow is None:
        raise ConfigError(f"incident {ident} names no workflow; select with --workflow and --since instead")
    return Selection(
        workflow=incident.workflow,
        since=incident.window_start,
        until=datetime.now(UTC),
        version=version,
        run_id=run_id,
    )


@rollback.command("plan")
@_select_options
@click.option(
    "--incident",
    default=None,
    metavar="INC-N",
    help="The incident's workflow and window (what `andon incidents rollback` would undo).",
)
@output_option
@db_option
def rollback_plan(
    workflow: str | None,
    since: str | None,
    until: str | None,
    version: str | None,
    run_id: str | None,
    incident: str | None,
    output: str,
    db: str | None,
) -> None:
    """Show what a rollback would undo, newest first. Changes nothing."""
    control = open_control(db)
    if incident is not None:
        if workflow or since or until:
            raise ConfigError("--incident sets the workflow and window; drop --workflow, --since and --until")
        selection = _incident_selection(control, incident, version=version, run_id=run_id)
    else:
        selection = _selection(workflow, since, until, version, run_id)
    items = control.rollback_plan(selection)
    rows = [
        [
            i.action_id,
            f"{i.finished_at:%Y-%m-%d %H:%M:%S}",
            i.tool,
            json.dumps(i.args)[:50],
            json.dumps(i.before)[:40],
            json.dumps(i.after)[:40],
            i.undo or "— (irreversible)",
        ]
        for i in items
    ]
    columns = ["action", "at (UTC)", "tool", "args", "before", "after", "undo"]
    emit(output, [i.as_dict() for i in items], table(f"{len(items)} actions to undo", columns, rows))


@rollback.command("run")
@_select_options
@click.option(
    "--tools",
    "target",
    required=True,
    metavar="MODULE:ATTR",
    help="Where your Andon client with the @tool undos lives, e.g. myagent.app:andon.",
)
@click.option("--dry-run", is_flag=True, help="Plan only.")
@reason_option
@actor_option
@output_option
def rollback_run(
    workflow: str | None,
    since: str | None,
    until: str | None,
    version: str | None,
    run_id: str | None,
    target: str,
    dry_run: bool,
    reason: str,
    actor: str | None,
    output: str,
) -> None:
    """Run the undos newest first with a progress bar; conflicts are reported, never overwritten."""
    from andon.sdk.client import Andon

    module_name, _, attr = target.partition(":")
    if os.getcwd() not in sys.path:  # like uvicorn: the agent's module is found from where you stand
        sys.path.insert(0, os.getcwd())
    client = getattr(importlib.import_module(module_name), attr or "andon", None)
    if not isinstance(client, Andon):
        raise ConfigError(f"--tools {target}: no Andon client there; name it as module:attribute")
    report = client.rollback(
        workflow=workflow,
        since=when(since),
        until=when(until),
        version=version,
        run_id=run_id,
        actor=actor_name(actor),
        reason=reason,
        dry_run=dry_run,
        progress=output == "text",
    )
    summary = (
        f"{len(report.planned)} planned, {len(report.rolled_back)} rolled back, "
        f"{len(report.already)} already undone, {len(report.conflicts)} conflicts, "
        f"{len(report.failed)} failed, {len(report.skipped)} skipped"
    )
    rows = [
        [
            c["action_id"],
            c["tool"],
            json.dumps(c["args"])[:50],
            json.dumps(c.get("expected"))[:40],
            json.dumps(c.get("current"))[:40],
        ]
        for c in report.conflicts
    ]
    text: Any = summary
    if rows:
        from rich.console import Group

        text = Group(
            summary,
            table("conflicts (left as they are)", ["action", "tool", "args", "agent wrote", "now"], rows),
        )
    emit(output, report.as_dict(), text)
    if report.conflicts or report.failed:
        raise SystemExit(1)
