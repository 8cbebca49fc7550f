"""``andon clocks``, ``andon affected INCIDENT`` (CSV) and ``andon review INCIDENT``.

Store, actor and output options as in ``andon incidents``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from andon.cli.control import actor_name, actor_option, db_option, emit, output_option, table, when
from andon.cli.incidents import open_engine
from andon.errors import ConfigError
from andon.store import reading


def _required(required: bool) -> str:
    return ", required" if required else ""


def _now() -> datetime:
    return datetime.now(UTC)


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "no fixed deadline"
    sign = "" if seconds >= 0 else "overdue by "
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    return sign + (f"{days}d " if days else "") + f"{rest // 60}h {rest % 60:02d}m"


@click.command("clocks")
@click.argument("incident", required=False)
@click.option("--trigger", default=None, help="Record a trigger act first: awareness, detection, ...")
@click.option("--finding", default=None, help="Record a finding first: high_risk_to_individuals, ...")
@click.option("--filed", default=None, metavar="REGIME/OBLIGATION", help="Record a filing first.")
@click.option("--not-required", is_flag=True, help="With --filed: the obligation was decided not to apply.")
@click.option("--who", default=None, help="Who took the decision (a contact id or name).")
@click.option("--at", "at", default=None, help="When (ISO time; default now).")
@click.option("--statement", default=None, help="The decision, in words.")
@click.option("--regime", default=None, help="Limit the trigger or finding to one regime.")
@click.option("--reference", default="", help="The regulator's case number, for a filing.")
@actor_option
@output_option
@db_option
def clocks(
    incident: str | None,
    trigger: str | None,
    finding: str | None,
    filed: str | None,
    not_required: bool,
    who: str | None,
    at: str | None,
    statement: str | None,
    regime: str | None,
    reference: str,
    actor: str | None,
    output: str,
    db: str | None,
) -> None:
    """Regulatory clocks of open incidents (or one): deadline and time left. With --trigger, --finding or
    --filed, first record that act for INCIDENT — an explicit, attributed, timestamped decision."""
    from andon.incidents.acts import record_act
    from andon.incidents.records import get_incident, list_incidents
    from andon.incidents.views import clock_views

    chosen = [a for a in (trigger, finding, filed) if a]
    if len(chosen) > 1:
        raise ConfigError("record one act at a time: --trigger, --finding or --filed")
    engine = open_engine(db)
    if chosen:
        if incident is None or not who or not statement:
            raise ConfigError("recording an act needs INCIDENT, --who and --statement")
        kind = "trigger" if trigger else "finding" if finding else "filing"
        name, act_regime = chosen[0], regime
        if filed:
            act_regime, _, name = filed.partition("/")
        with engine.begin() as conn:
            record_act(
                conn,
                get_incident(conn, incident),
                act=kind,
                name=name,
                who=who,
                at=when(at) or _now(),
                statement=statement,
                actor=actor_name(actor),
                now=_now(),
                regime=act_regime,
                reference=reference,
                disposition="not_required" if not_required else "filed",
            )
    now = _now()
    with reading(engine) as conn:
        found = [get_incident(conn, incident)] if incident else list_incidents(conn, open_only=True)
        views = [(i, clock_views(conn, i, now=now)) for i in found]
    data = [{"incident": i.id, "clocks": c} for i, c in views]
    rows = [
        [
            i.id,
            c["regime"],
            c["name"],
            c["status"],
            (c["deadline"] or "")[:16],
            _left(c["seconds_left"]),
            c["started_by"],
        ]
        for i, cs in views
        for c in cs
    ]
    columns = ["incident", "regime", "obligation", "status", "deadline (UTC)", "time left", "started by"]
    emit(output, data, table(f"{len(rows)} clock(s)", columns, rows) if rows else "no clocks are running")


@click.command("affected")
@click.argument("incident")
@click.option("--customers", is_flag=True, help="One line per recipient instead of one per action.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to a file.")
@click.option("-o", "--output", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@db_option
def affected_cmd(incident: str, customers: bool, out: Path | None, output: str, db: str | None) -> None:
    """Actions, records and recipients the workflow touched in the incident window or under a suspect
    version — CSV for the support team."""
    import csv
    import io

    from andon.incidents.affected import affected, to_csv
    from andon.incidents.affected import customers as by_customer
    from andon.incidents.records import get_incident

    with reading(open_engine(db)) as conn:
        rows = affected(conn, get_incident(conn, incident))
    if customers:
        people = by_customer(rows)
        if output == "json":
            text = json.dumps(people, indent=2)
        else:
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(["recipient", "actions", "tools"])
            writer.writerows([[p["recipient"], p["actions"], ";".join(p["tools"])] for p in people])
            text = buffer.getvalue()
    else:
        text = (
            json.dumps([r.as_dict() for r in rows], indent=2, default=str)
            if output == "json"
            else to_csv(rows)
        )
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"{len(rows)} actions written to {out}", err=True)


@click.command("review")
@click.argument("incident")
@click.option("--root-cause", default=None, help="hallucination, retrieval, prompt_injection, ...")
@click.option("--summary", default=None, help="What happened and why (with --root-cause).")
@click.option("--no-eval-reason", default=None, help="Why no evaluation case applies.")
@click.option("--item", default=None, help="Add an action item (with --owner).")
@click.option("--owner", default=None, help="Owner of the new action item.")
@click.option("--optional", is_flag=True, help="The new item does not hold the restart gate.")
@click.option("--done", "done", type=int, default=None, help="Mark action item N done.")
@click.option("--eval-case", "eval_index", type=int, default=None, help="Capture ledger event N as a case.")
@click.option("--expected", default=None, help="The output it should have had (JSON), for --eval-case.")
@click.option(
    "--export-cases",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the evaluation cases as JSONL.",
)
@click.option("--sign-off", "sign_off_as", default=None, help="Sign off as this owner (a contact id).")
@click.option("--resume", "resume_reason", default=None, help="Resume automation (restart gate), saying why.")
@actor_option
@output_option
@db_option
def review_cmd(
    incident: str,
    root_cause: str | None,
    summary: str | None,
    no_eval_reason: str | None,
    item: str | None,
    owner: str | None,
    optional: bool,
    done: int | None,
    eval_index: int | None,
    expected: str | None,
    export_cases: Path | None,
    sign_off_as: str | None,
    resume_reason: str | None,
    actor: str | None,
    output: str,
    db: str | None,
) -> None:
    """The post-incident review: root cause, action items, evaluation cases, sign-off and the restart gate."""
    from andon.incidents import review
    from andon.incidents.records import get_incident

    who, now = actor_name(actor), _now()
    cleared: list[str] | None = None
    with open_engine(db).begin() as conn:
        found = get_incident(conn, incident)
        if root_cause is not None:
            review.set_review(
                conn,
                found,
                root_cause=root_cause,
                summary=summary or "",
                actor=who,
                now=now,
                no_eval_reason=no_eval_reason,
            )
        if item is not None:
            if not owner:
                raise ConfigError("--item needs --owner")
            review.add_item(conn, found, text=item, owner=owner, actor=who, now=now, required=not optional)
        if done is not None:
            review.mark_item_done(conn, found, done, actor=who, now=now)
        if eval_index is not None:
            if expected is None:
                raise ConfigError("--eval-case needs --expected (the right output, as JSON)")
            try:
                wanted: Any = json.loads(expected)
            except json.JSONDecodeError:
                wanted = expected  # plain text is a fine expected output
            review.add_eval_case(conn, found, source_index=eval_index, expected=wanted, actor=who, now=now)
        if sign_off_as is not None:
            review.sign_off(conn, found, contact=sign_off_as, actor=who, now=now)
        current = review.get_review(conn, found.number)
        if export_cases is not None:
            export_cases.write_text(review.eval_cases_jsonl(current, found), encoding="utf-8")
        gate = review.restart_gate(conn, found)
    if resume_reason is not None:
        with open_engine(db).begin() as conn:
            cleared = review.resume(
                conn, get_incident(conn, incident), actor=who, reason=resume_reason, now=_now()
            )
    data = {"incident": found.id, "review": current.as_dict(), "restart_gate": gate, "resumed": cleared}
    lines = [
        f"{found.id} review: root cause {current.root_cause or '(not written)'}",
        *[
            f"  [{'x' if i.done_at else ' '}] {i.id}. {i.text} ({i.owner}{_required(i.required)})"
            for i in current.items
        ],
        f"  {len(current.cases)} evaluation case(s)",
        f"  signed off by {current.signed_off_by}" if current.signed_off_by else "  not signed off",
        "restart gate: open" if not gate else "restart gate: closed — " + "; ".join(gate),
    ]
    if cleared is not None:
        lines.append(f"automation resumed: {len(cleared)} switch(es) cleared")
    emit(output, data, "\n".join(lines))
