"""``andon verify``, ``andon evidence export|verify``, ``andon ledger key|checkpoint``.

Commands open the store named by --db, else $ANDON_DATABASE_URL, else the SQLite file under
$ANDON_DATA_DIR; the signing key is $ANDON_DATA_DIR/ledger.key.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from andon.errors import ConfigError, LedgerError

DB_HELP = "Database URL (default: $ANDON_DATABASE_URL, else SQLite in $ANDON_DATA_DIR)."
KEY_HELP = (
    "Expected public key: a verifier key (name+id+base64), a base64 Ed25519 key, or a file holding "
    "either (default: the key in $ANDON_DATA_DIR)."
)

db_option = click.option("--db", "db", metavar="URL", default=None, help=DB_HELP)
output_option = click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)


def _engine(db: str | None) -> Any:
    from andon.store import database_url, open_store

    return open_store(db or database_url())


def _pinned_key(key: str | None) -> str | None:
    if key is None:
        return None
    path = Path(key)
    if len(key) < 300 and path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return key


def _trusted_verifier(key: str | None) -> Any:
    """The key checkpoints must be signed by: --key if given, else the data dir's (never created here)."""
    from andon.ledger.keys import SIGNING_KEY_FILE, Verifier, load_signer
    from andon.store import data_dir

    text = _pinned_key(key)
    if text is not None:
        try:
            return Verifier.parse(text)
        except ConfigError:
            import binascii

            from andon.ledger.keys import b64decode_strict

            try:
                raw = b64decode_strict(text)
            except binascii.Error:
                raw = b""
            if len(raw) != 32:
                raise ConfigError(
                    f"--key {key!r} is neither a verifier key nor a base64 Ed25519 key"
                ) from None
            from andon.ledger.keys import default_name

            return Verifier(name=default_name(raw), public_key=raw)
    path = data_dir() / SIGNING_KEY_FILE
    return load_signer(path).verifier if path.exists() else None


@click.command("verify")
@db_option
@click.option("--key", default=None, help=KEY_HELP)
@output_option
def verify(db: str | None, key: str | None, output: str) -> None:
    """Check the whole ledger: leaf hashes, indexes, tree, checkpoints and their signatures.

    Exits 0 when the ledger is intact, 1 when anything is wrong (the first bad leaf is named).
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from andon.ledger.verify import Problem, verify_ledger
    from andon.store import reading

    verifier = _trusted_verifier(key)
    engine = _engine(db)
    err = Console(stderr=True)
    columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("verify", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        with reading(engine) as conn:  # on SQLite, writers carry on while the log is verified
            report = verify_ledger(conn, verifier=verifier, progress=progress)
    engine.dispose()
    if verifier is None and report.checkpoints:
        report.problems.append(
            Problem("bad_signature", None, "no ledger key to check checkpoint signatures; pass --key")
        )
    if output == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        click.echo(
            f"ok: {report.leaves} events, {report.checkpoints} checkpoints, root {report.root.hex()}"
            + (f", key {report.key_id}" if report.key_id else "")
        )
    else:
        click.echo(f"FAILED: first bad leaf {report.first_bad_index}", err=False)
        for problem in report.problems:
            where = f" at leaf {problem.index}" if problem.index is not None else ""
            click.echo(f"  {problem.kind}{where}: {problem.message}")
    sys.exit(0 if report.ok else 1)


@click.group("evidence")
def evidence() -> None:
    """Export and check evidence bundles (events + proofs + signed checkpoint, one zip)."""


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time, e.g. 2026-11-22T10:00:00Z") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@evidence.command("export")
@db_option
@click.option("--workflow", default=None, help="Only events of this workflow.")
@click.option("--run", "run_id", default=None, help="Only events of this run.")
@click.option(
    "--incident", "incident_id", default=None, help="Only events whose payload has this incident_id."
)
@click.option("--since", default=None, help="Events at or after this time (ISO 8601; naive means UTC).")
@click.option("--until", default=None, help="Events before this time (ISO 8601; naive means UTC).")
@click.option(
    "--out",
    "-O",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The zip to write.",
)
@output_option
def export(
    db: str | None,
    workflow: str | None,
    run_id: str | None,
    incident_id: str | None,
    since: str | None,
    until: str | None,
    out: Path,
    output: str,
) -> None:
    """Write the selected events, their inclusion proofs and a signed checkpoint to one zip."""
    from andon.ledger.evidence import Selection, export_bundle
    from andon.ledger.keys import signing_key

    selection = Selection(
        workflow=workflow, run_id=run_id, incident_id=incident_id, since=_time(since), until=_time(until)
    )
    engine = _engine(db)
    with engine.begin() as conn:
        summary = export_bundle(conn, out_path=out, signer=signing_key(), selection=selection)
    engine.dispose()
    result = {"path": str(summary.path), "events": summary.events, "tree_size": summary.tree_size}
    if output == "json":
        click.echo(json.dumps(result | {"key_id": summary.key_id}, indent=2))
    else:
        click.echo(
            f"wrote {summary.path}: {summary.events} events, proofs against tree size {summary.tree_size}"
        )


@evidence.command("verify")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--key", default=None, help="Pin the expected public key (verifier key, base64 key, or a file)."
)
@output_option
def verify_evidence(bundle: Path, key: str | None, output: str) -> None:
    """Check a bundle offline; exits 0 when it verifies, 1 when it does not."""
    from andon.ledger.evidence import verify_bundle

    report = verify_bundle(bundle, key=_pinned_key(key))
    if output == "json":
        click.echo(json.dumps(report.as_dict(), indent=2))
    elif report.ok:
        click.echo(
            f"ok: {report.events} events included in {report.origin} at tree size {report.tree_size}, "
            f"key {report.key_id}"
        )
    else:
        click.echo(f"FAILED: {bundle}")
        for problem in report.problems:
            click.echo(f"  {problem}")
    sys.exit(0 if report.ok else 1)


@click.group("ledger")
def ledger() -> None:
    """The ledger's signing key and checkpoints."""


@ledger.command("key")
@output_option
def key(output: str) -> None:
    """Print the ledger's public key (created on first use in $ANDON_DATA_DIR/ledger.key)."""
    from andon.ledger.keys import signing_key

    verifier = signing_key().verifier
    if output == "json":
        data = {
            "name": verifier.name,
            "key_id": verifier.key_id.hex(),
            "vkey": verifier.vkey(),
            "raw": verifier.raw(),
        }
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(f"verifier key: {verifier.vkey()}")
        click.echo(f"raw (base64): {verifier.raw()}")


@ledger.command("checkpoint")
@db_option
@output_option
def checkpoint(db: str | None, output: str) -> None:
    """Sign a checkpoint of the ledger now and print it."""
    from andon.ledger.checkpoint import write_checkpoint
    from andon.ledger.keys import signing_key

    engine = _engine(db)
    with engine.begin() as conn:
        written = write_checkpoint(conn, signing_key())
    engine.dispose()
    if written is None:
        raise LedgerError("the ledger is empty; there is nothing to checkpoint yet")
    if output == "json":
        click.echo(
            json.dumps({"size": written.size, "root": written.root.hex(), "note": written.note}, indent=2)
        )
    else:
        click.echo(written.note, nl=False)
