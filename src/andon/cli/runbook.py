"""``andon lint``, ``andon render``, ``andon init`` and ``andon apply``: the runbook as code.

Exit codes of ``lint`` (and ``apply``): 0 clean or warnings only, 1 error-level findings (or warnings
with ``--strict``), 2 the runbook cannot be loaded at all.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from andon.errors import Problem, RunbookError

EXIT_FINDINGS = 1
EXIT_UNUSABLE = 2


def _today(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        click.echo(p.render())


def _count(problems: list[Problem], level: str) -> int:
    return sum(1 for p in problems if p.severity == level)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one 'file:line:col: level CODE message' line per finding; json: one document.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Judge drill dates as of this day (default: today, UTC).",
)
def lint(path: Path, output: str, strict: bool, today: datetime | None) -> None:
    """Check a runbook file or folder for schema errors and go-live readiness.

    Every finding has a code explained in docs/lint-findings.md. Exit 0 when clean (warnings allowed),
    1 when a finding is an error, 2 when the runbook cannot be loaded.
    """
    from andon.runbook.lint import lint as lint_runbook
    from andon.runbook.load import load_all

    try:
        loaded = load_all(path)
    except RunbookError as exc:
        _report(output, exc.problems, runbooks=[], unusable=True)
        sys.exit(EXIT_UNUSABLE)
    findings = [f for one in loaded for f in lint_runbook(one, today=_today(today))]
    runbooks = [
        {"files": one.files, "digest": one.digest, "workflows": [w.id for w in one.runbook.workflows]}
        for one in loaded
    ]
    _report(output, findings, runbooks=runbooks, unusable=False)
    errors, warnings = _count(findings, "error"), _count(findings, "warning")
    if errors or (strict and warnings):
        sys.exit(EXIT_FINDINGS)


def _report(output: str, problems: list[Problem], *, runbooks: list[dict[str, Any]], unusable: bool) -> None:
    errors, warnings = _count(problems, "error"), _count(problems, "warning")
    if output == "json":
        document = {
            "ok": not unusable and errors == 0,
            "loaded": not unusable,
            "runbooks": runbooks,
            "errors": errors,
            "warnings": warnings,
            "problems": [p.as_dict() for p in problems],
        }
        click.echo(json.dumps(document, indent=2))
        return
    _print_problems(problems)
    if unusable:
        click.echo(f"cannot load the runbook: {_plural(errors, 'error')}", err=True)
    else:
        workflows = sum(len(r["workflows"]) for r in runbooks)
        click.echo(
            f"{_plural(len(runbooks), 'runbook')}, {_plural(workflows, 'workflow')}: "
            f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}",
            err=True,
        )


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "html"]),
    default=None,
    help="Output format (default: html when -o ends in .html, else markdown).",
)
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE, not stdout."
)
def render(path: Path, fmt: str | None, output: Path | None) -> None:
    """Render a runbook as the document people read in an incident (Markdown or one HTML page)."""
    from andon.runbook.lint import has_errors
    from andon.runbook.lint import lint as lint_runbook
    from andon.runbook.load import load
    from andon.runbook.render import render as render_runbook

    try:
        loaded = load(path)
    except RunbookError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_UNUSABLE)
    chosen = fmt or ("html" if output is not None and output.suffix in (".html", ".htm") else "markdown")
    today = datetime.now(UTC).date()
    text = render_runbook(
        loaded.runbook, fmt="html" if chosen == "html" else "markdown", today=today, digest=loaded.digest
    )
    if has_errors(lint_runbook(loaded)):
        click.echo(f"note: {path} has lint errors; run 'andon lint {path}' before relying on it", err=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


_EFFECTS = ("read", "write", "send", "delete", "spend")


def _parse_tool(text: str) -> tuple[str, str]:
    name, _, effect = text.partition(":")
    if not name or effect not in _EFFECTS:
        raise click.BadParameter(f"'{text}' is not NAME:EFFECT with EFFECT one of {', '.join(_EFFECTS)}")
    return name, effect


@click.command()
@click.option("--workflow", help="Workflow id, e.g. support-triage.")
@click.option("--purpose", help="What the workflow does, in one sentence.")
@click.option("--organisation", help="Organisation name.")
@click.option("--business-owner", help="Name of the business owner (decides customer and workflow impact).")
@click.option("--business-email", help="E-mail of the business owner.")
@click.option("--technical-owner", help="Name of the technical owner (logs, rollback, fixes).")
@click.option("--technical-email", help="E-mail of the technical owner.")
@click.option(
    "--communications-owner", help="Name of the communications owner (default: the business owner)."
)
@click.option("--communications-email", help="E-mail of the communications owner.")
@click.option(
    "--dpo", help="Name of the data-protection contact (needed when the workflow handles personal data)."
)
@click.option("--dpo-email", help="E-mail of the data-protection contact.")
@click.option("--model", help="Model as provider/name, e.g. openai/gpt-4.1-mini.")
@click.option("--system", "systems", multiple=True, help="A connected system (repeat).")
@click.option(
    "--data-class",
    "data_classes",
    multiple=True,
    type=click.Choice(
        [
            "public",
            "internal",
            "commercial",
            "personal",
            "special_category",
            "health",
            "payment",
            "financial",
            "regulated",
            "customer_communications",
            "credentials",
        ]
    ),
    help="A data class the workflow handles (repeat).",
)
@click.option("--tool", "tools", multiple=True, help="A tool as NAME:EFFECT, e.g. crm.update:write (repeat).")
@click.option(
    "--autonomy",
    type=click.Choice(["observe", "advise", "act_with_approval", "autonomous"]),
    default="act_with_approval",
    show_default=True,
)
@click.option("--fallback-queue", help="Where work goes while the workflow is paused.")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("runbook.yaml"),
    show_default=True,
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--ask", is_flag=True, help="Ask for missing answers even when stdin is not a terminal.")
def init(**options: Any) -> None:
    """Scaffold a runbook for a new workflow, from flags or by asking questions.

    The result lints without errors; its warnings list what is still yours to decide.
    """
    from andon.runbook.lint import lint as lint_runbook
    from andon.runbook.load import load
    from andon.runbook.scaffold import Person, ScaffoldSpec, scaffold

    output: Path = options["output"]
    if output.exists() and not options["force"]:
        raise click.UsageError(
            f"{output} exists; pass --force to overwrite it or --output to write elsewhere"
        )
    interactive = options["ask"] or sys.stdin.isatty()
    questions = {
        "workflow": "Workflow id (e.g. support-triage)",
        "purpose": "What does it do, in one sentence",
        "organisation": "Organisation name",
        "business_owner": "Business owner's name",
        "business_email": "Business owner's e-mail",
        "technical_owner": "Technical owner's name",
        "technical_email": "Technical owner's e-mail",
        "model": "Model as provider/name",
    }
    missing = [key for key in questions if not options[key]]
    personal = bool(set(options["data_classes"]) & {"personal", "special_category", "health", "payment"})
    if personal:
        questions.update(
            {"dpo": "Data-protection contact's name", "dpo_email": "Data-protection contact's e-mail"}
        )
        missing += [key for key in ("dpo", "dpo_email") if not options[key]]
    if missing and not interactive:
        flags = ", ".join("--" + key.replace("_", "-") for key in missing)
        raise click.UsageError(f"missing {flags} (or run in a terminal to be asked)")
    for key in missing:
        options[key] = click.prompt(questions[key])
    comms = options["communications_owner"]
    spec = ScaffoldSpec(
        organisation=options["organisation"],
        workflow=options["workflow"],
        purpose=options["purpose"],
        business_owner=Person(options["business_owner"], options["business_email"]),
        technical_owner=Person(options["technical_owner"], options["technical_email"]),
        communications_owner=Person(comms, options["communications_email"] or "") if comms else None,
        data_protection=Person(options["dpo"], options["dpo_email"]) if options["dpo"] else None,
        model=options["model"],
        systems=list(options["systems"]),
        data_classes=list(options["data_classes"]),
        tools=[_parse_tool(t) for t in options["tools"]],
        autonomy=options["autonomy"],
        fallback_queue=options["fallback_queue"],
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(scaffold(spec), encoding="utf-8")
    try:
        findings = lint_runbook(load(output))
    except RunbookError as exc:
        # The answers themselves can be invalid (say, a workflow id with spaces): show where.
        _print_problems(exc.problems)
        click.echo(f"wrote {output}, but it does not load yet; fix the lines above", err=True)
        sys.exit(EXIT_UNUSABLE)
    _print_problems(findings)
    click.echo(
        f"wrote {output}: {_plural(_count(findings, 'error'), 'error')}, "
        f"{_plural(_count(findings, 'warning'), 'warning')} still to decide. Next: andon lint {output}",
        err=True,
    )


@click.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--actor", default=None, help="Who applies it (default: $USER).")
def apply(path: Path, actor: str | None) -> None:
    """Apply a runbook to the store as a new, immutable, numbered revision.

    Refuses a runbook with lint errors. The store is $ANDON_DATABASE_URL, or SQLite under
    $ANDON_DATA_DIR (default ./.andon).
    """
    import getpass

    from andon.runbook.lint import has_errors
    from andon.runbook.lint import lint as lint_runbook
    from andon.runbook.load import load
    from andon.runbook.revisions import apply_runbook
    from andon.store import open_store

    try:
        loaded = load(path)
    except RunbookError as exc:
        _print_problems(exc.problems)
        sys.exit(EXIT_UNUSABLE)
    findings = lint_runbook(loaded)
    if has_errors(findings):
        _print_problems([f for f in findings if f.severity == "error"])
        click.echo("not applied: fix the lint errors above first", err=True)
        sys.exit(EXIT_FINDINGS)
    engine = open_store()
    try:
        with engine.begin() as conn:
            revision, created = apply_runbook(
                conn, loaded.runbook, source=loaded.source, actor=actor or getpass.getuser()
            )
    finally:
        engine.dispose()
    workflows = ", ".join(w.id for w in loaded.runbook.workflows) or "no workflows"
    if created:
        click.echo(
            f"applied runbook revision {revision.revision} ({workflows}; digest {revision.digest[:12]})"
        )
    else:
        click.echo(f"unchanged: revision {revision.revision} already holds this runbook")
