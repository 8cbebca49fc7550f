"""``andon demo``: the server on a fresh embedded SQLite store, the bundled runbook, live agents."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8787, show_default=True, help="Port to listen on.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".andon") / "demo",
    show_default=True,
    help="Where the demo keeps its store and keys; emptied at every start.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the simulated traffic.")
def demo(host: str, port: int, data_dir: Path, seed: int) -> None:
    """Start the console with three simulated agents acting on a mock helpdesk and CRM.

    Open the printed URL, log in, and: watch actions flow, pull the cord (pause a workflow) and see
    its agent stop, approve a held refund, set off a bad prompt or an injected attachment, restore the
    last approved prompt and roll back the tier changes. Ctrl-C stops everything.
    """
    from andon.cli.server import console_url
    from andon.demo.web import install
    from andon.demo.world import DemoWorld
    from andon.server import wire
    from andon.server.app import create_app
    from andon.server.settings import Settings
    from andon.server.users import bootstrap_admin
    from andon.store import create_engine, migrate

    # The mock systems live in memory, so the demo's store starts empty too: old actions would point
    # at records that no longer exist.
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    os.environ["ANDON_DATA_DIR"] = str(data_dir)
    url = f"sqlite:///{data_dir / 'andon.db'}"
    engine = create_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        password = bootstrap_admin(conn)
    world = DemoWorld(url, seed=seed)
    revision = world.prepare(engine)
    engine.dispose()
    app = create_app(Settings(database_url=url, host=host, port=port))
    install(app, world)
    world.start()
    click.echo(f"Andon demo: runbook revision {revision} applied, 3 simulated agents running.")
    click.echo(f"Console: {console_url(host, port)}demo")
    click.echo(f"Log in as: admin / {password}")
    click.echo("Ctrl-C stops the demo.")
    sys.stdout.flush()
    try:
        wire.run(app, host=host, port=port, log_level="warning")
    finally:
        world.stop()
