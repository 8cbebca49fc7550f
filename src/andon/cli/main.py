"""Entry point of the ``andon`` command. Subcommands load lazily so ``andon --help`` stays fast."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from andon.errors import AndonError

# name -> "module:attribute"; each module owns one command group.
COMMANDS: dict[str, str] = {
    "demo": "andon.cli.demo:demo",
    "lint": "andon.cli.runbook:lint",
    "render": "andon.cli.runbook:render",
    "init": "andon.cli.runbook:init",
    "apply": "andon.cli.runbook:apply",
    "serve": "andon.cli.server:serve",
    "keys": "andon.cli.server:keys",
    "users": "andon.cli.server:users",
    "verify": "andon.cli.ledger:verify",
    "evidence": "andon.cli.ledger:evidence",
    "ledger": "andon.cli.ledger:ledger",
    "pause": "andon.cli.control:pause",
    "resume": "andon.cli.control:resume",
    "switches": "andon.cli.control:switches",
    "approvals": "andon.cli.control:approvals",
    "versions": "andon.cli.recovery:versions",
    "rollback": "andon.cli.recovery:rollback",
    "incidents": "andon.cli.incidents:incidents",
    "clocks": "andon.cli.postmortem:clocks",
    "affected": "andon.cli.postmortem:affected_cmd",
    "review": "andon.cli.postmortem:review_cmd",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="andon")
def cli() -> None:
    """Andon: the incident-response runbook for AI workflows, made executable.

    The store is $ANDON_DATABASE_URL, or SQLite under $ANDON_DATA_DIR (default ./.andon).
    """


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI; Andon's own errors print as one plain line and exit 2, never a traceback."""
    try:
        return cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except AndonError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
