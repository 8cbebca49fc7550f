"""``andon pause|resume``, ``andon switches``, ``andon approvals`` (versions and rollback: ``recovery``).

Commands open the store named by --db, else $ANDON_DATABASE_URL, else the SQLite file under
$ANDON_DATA_DIR. Who did it is --actor, else $ANDON_ACTOR, else cli:$USER; it goes into the ledger.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from typing import Any

import click

from andon.errors import ConfigError

db_option = click.option(
    "--db", metavar="URL", default=None, help="Database URL (default: $ANDON_DATABASE_URL)."
)
actor_option = click.option(
    "--actor", default=None, help="Who does it (default: $ANDON_ACTOR, else cli:$USER)."
)
output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
reason_option = click.option("--reason", "-r", required=True, help="Why (recorded in the ledger).")
expiry_option = click.option(
    "--for",
    "duration",
    default=None,
    metavar="DURATION",
    help="Lift it automatically after this long, e.g. 30m, 4h.",
)


def actor_name(actor: str | None) -> str:
    if actor:
        return actor
    if os.environ.get("ANDON_ACTOR"):
        return os.environ["ANDON_ACTOR"]
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def open_control(db: str | None) -> Any:
    from andon.control.service import StoreControl
    from andon.store import database_url, open_store

    return StoreControl(open_store(db or database_url()))


def when(text: str | None) -> datetime | None:
    """An ISO time, or a duration meaning that long ago (for --since/--until)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        from andon.runbook.units import parse_duration

        try:
            return datetime.now(UTC) - parse_duration(text)
        except ValueError:
            raise ConfigError(
                f"'{text}' is neither an ISO time (2026-11-22T10:00Z) nor a duration (2h)"
            ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _expiry(duration: str | None) -> datetime | None:
    if duration is None:
        return None
    from andon.runbook.units import parse_duration

    try:
        return datetime.now(UTC) + parse_duration(duration)
    except ValueError as exc:
        raise ConfigError(f"--for: {exc}") from None


def emit(output: str, data: Any, text: Any) -> None:
    if output == "json":
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        from rich.console import Console

        Console().print(text)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["" if cell is None else str(cell) for cell in row])
    return table


# -- pause / resume -------------------------------------------------------------------------------
@click.command("pause")
@click.argument("workflow")
@reason_option
@expiry_option
@actor_option
@db_option
def pause(workflow: str, reason: str, duration: str | None, actor: str | None, db: str | None) -> None:
    """Stop every action of WORKFLOW now; its work goes to the declared fallback."""
    switch = open_control(db).set_switch(
        kind="pause_workflow",
        workflow=workflow,
        actor=actor_name(actor),
        reason=reason,
        expires_at=_expiry(duration),
    )
    until = f" until {switch.expires_at:%Y-%m-%d %H:%M UTC}" if switch.expires_at else ""
    click.echo(f"paused {workflow}{until} ({switch.id})")


@click.command("resume")
@click.argument("workflow")
@reason_option
@actor_option
@db_option
def resume(workflow: str, reason: str, actor: str | None, db: str | None) -> None:
    """Lift the pauses on WORKFLOW (including a tripped circuit breaker's)."""
    cleared = open_control(db).clear_switches(
        workflow=workflow, kinds=("pause_workflow",), actor=actor_name(actor), reason=reason
    )
    click.echo(
        f"resumed {workflow} ({len(cleared)} pause(s) lifted)" if cleared else f"{workflow} was not paused"
    )


# -- switches -------------------------------------------------------------------------------------
@click.group("switches", invoke_without_command=True)
@db_option
@click.pass_context
def switches(ctx: click.Context, db: str | None) -> None:
    """List, set and clear switches (scoped stops). Without a subcommand: list."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(switches_list, db=db)


@switches.command("list")
@click.option("--workflow", "-w", default=None)
@click.option("--all", "include_cleared", is_flag=True, help="Include cleared and expired switches.")
@output_option
@db_option
def switches_list(
    workflow: str | None = None, include_cleared: bool = False, output: str = "text", db: str | None = None
) -> None:
    """Switches in force."""
    found = open_control(db).list_switches(workflow=workflow, include_cleared=include_cleared)
    rows = [
        [
            s.id,
            s.kind,
            s.workflow or "*",
            s.target,
            s.actor,
            s.reason,
            f"{s.created_at:%Y-%m-%d %H:%M}",
            f"{s.expires_at:%Y-%m-%d %H:%M}" if s.expires_at else "",
        ]
        for s in found
    ]
    columns = ["id", "switch", "workflow", "target", "who", "why", "since (UTC)", "expires"]
    emit(
        output,
        [s.as_dict() for s in found],
        table("Switches", columns, rows) if rows else "no switches in force",
    )


@switches.command("set")
@click.argument(
    "kind",
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
@click.option("--workflow", "-w", default=None, help="Workflow id; omit to apply to every workflow.")
@click.option("--target", "-t", default=None, help="The tool, source, credential or autonomy level.")
@reason_option
@expiry_option
@actor_option
@db_option
def switches_set(
    kind: str,
    workflow: str | None,
    target: str | None,
    reason: str,
    duration: str | None,
    actor: str | None,
    db: str | None,
) -> None:
    """Pull a switch, e.g. `andon switches set block_tool -w support-triage -t crm.update_tier -r '...'`."""
    switch = open_control(db).set_switch(
        kind=kind,
        workflow=workflow,
        target=target,
        actor=actor_name(actor),
        reason=reason,
        expires_at=_expiry(duration),
    )
    click.echo(f"set {switch.describe()} ({switch.id})")


@switches.command("clear")
@click.argument("switch_id", required=False)
@click.option("--workflow", "-w", default=None)
@click.option("--kind", "-k", default=None)
@click.option("--target", "-t", default=None)
@reason_option
@actor_option
@db_option
def switches_clear(
    switch_id: str | None,
    workflow: str | None,
    kind: str | None,
    target: str | None,
    reason: str,
    actor: str | None,
    db: str | None,
) -> None:
    """Clear a switch by id, or every switch of a workflow (narrowed by --kind/--target)."""
    cleared = open_control(db).clear_switches(
        switch_id=switch_id,
        workflow=workflow,
        kinds=(kind,) if kind else (),
        target=target,
        actor=actor_name(actor),
        reason=reason,
    )
    for switch in cleared:
        click.echo(f"cleared {switch.kind} {switch.target or ''} on {switch.workflow or '*'} ({switch.id})")
    if not cleared:
        click.echo("nothing to clear")


# -- approvals ------------------------------------------------------------------------------------
@click.group("approvals")
def approvals() -> None:
    """Held actions waiting for a person: list, show, approve, reject, stats."""


@approvals.command("list")
@click.option("--workflow", "-w", default=None)
@click.option(
    "--status",
    default="pending",
    show_default=True,
    type=click.Choice(["pending", "approved", "rejected", "expired", "executed", "all"]),
)
@output_option
@db_option
def approvals_list(workflow: str | None, status: str, output: str, db: str | None) -> None:
    """Approval requests, oldest first."""
    found = open_control(db).list_approvals(workflow=workflow, status=None if status == "all" else status)
    rows = [
        [
            a.id,
            a.workflow,
            a.tool,
            a.requester,
            a.rule,
            a.status,
            f"{a.created_at:%Y-%m-%d %H:%M}",
            json.dumps(a.effective_args)[:60],
        ]
        for a in found
    ]
    listing = table(
        "Approvals", ["id", "workflow", "tool", "requested by", "rule", "status", "since (UTC)", "args"], rows
    )
    emit(output, [a.as_dict() for a in found], listing if rows else f"no {status} approvals")


@approvals.command("show")
@click.argument("approval_id")
@output_option
@db_option
def approvals_show(approval_id: str, output: str, db: str | None) -> None:
    """One request with its full context: input, sources, model output, the change, similar decisions."""
    from rich.console import Group
    from rich.panel import Panel

    a = open_control(db).get_approval(approval_id)
    ctx = a.context
    change = ctx.get("change") or {}
    before, after = change.get("before"), change.get("after")
    diff_rows = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                diff_rows.append([key, json.dumps(before.get(key)), json.dumps(after.get(key))])
    else:
        diff_rows.append(["(record)", json.dumps(before), json.dumps(after)])
    header = (
        f"[bold]{a.id}[/] {a.workflow} / {a.tool} — {a.status}\nheld by rule [bold]{a.rule}[/]: {a.reason}\n"
        f"requested by {a.requester} at {a.created_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"expires {a.expires_at:%Y-%m-%d %H:%M} UTC\nconfidence: {ctx.get('confidence')}"
    )
    sources = [
        f"{r.get('source')}: {json.dumps(r.get('documents'))[:100]}" for r in ctx.get("retrievals") or []
    ]
    similar = [
        [s["approval_id"], s["status"], s["decided_by"], s.get("reason"), json.dumps(s.get("args"))[:50]]
        for s in a.similar
    ]
    parts: list[Any] = [
        header,
        Panel(json.dumps(ctx.get("input"), indent=1, default=str)[:1500], title="input"),
        Panel("\n".join(sources) or "none", title="retrieved sources"),
        Panel(str(ctx.get("model_output"))[:1500], title="model output"),
        table("proposed change", ["field", "before", "after"], diff_rows),
        table("similar past decisions", ["id", "status", "by", "why", "args"], similar) if similar else "",
    ]
    emit(output, a.as_dict(), Group(*parts))


@approvals.command("approve")
@click.argument("approval_id")
@click.option("--reason", "-r", default="approved", show_default=True)
@click.option(
    "--edit", default=None, metavar="JSON", help="Approve with these arguments instead (edit-and-approve)."
)
@actor_option
@db_option
def approvals_approve(
    approval_id: str, reason: str, edit: str | None, actor: str | None, db: str | None
) -> None:
    """Approve a held action (never your own); --edit changes its arguments first."""
    edited = None
    if edit is not None:
        try:
            edited = json.loads(edit)
        except ValueError as exc:
            raise ConfigError(f"--edit is not JSON: {exc}") from None
    a = open_control(db).decide_approval(
        approval_id, actor=actor_name(actor), approve=True, reason=reason, edited_args=edited
    )
    click.echo(f"approved {a.id} ({a.tool}); the agent runs it on resume")


@approvals.command("reject")
@click.argument("approval_id")
@reason_option
@actor_option
@db_option
def approvals_reject(approval_id: str, reason: str, actor: str | None, db: str | None) -> None:
    """Reject a held action, saying why."""
    a = open_control(db).decide_approval(approval_id, actor=actor_name(actor), approve=False, reason=reason)
    click.echo(f"rejected {a.id} ({a.tool})")


@approvals.command("stats")
@click.option("--since", default="7d", show_default=True, help="ISO time or duration ago.")
@output_option
@db_option
def approvals_stats(since: str, output: str, db: str | None) -> None:
    """Approval quality signals per approver: volume, time to decide, decisions per hour."""
    stats = open_control(db).approval_stats(since=when(since) or datetime.now(UTC))
    rows = [
        [
            s.approver,
            s.decisions,
            s.approved,
            s.rejected,
            f"{s.median_seconds_to_decide:.0f}s",
            f"{s.per_hour:.1f}",
            s.max_in_one_hour,
        ]
        for s in stats
    ]
    columns = [
        "approver",
        "decisions",
        "approved",
        "rejected",
        "median time to decide",
        "per hour",
        "max in 1h",
    ]
    emit(output, [s.as_dict() for s in stats], table("Approvers", columns, rows) if rows else "no decisions")
