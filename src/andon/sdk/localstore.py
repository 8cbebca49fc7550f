"""Local mode's care for the store it writes to: bounded lock waits, and a file that vanished.

The engine factory waits up to 30 s for a locked store, which suits the CLI and the server; an agent's
write should rather fail closed quickly. SQLite keeps writing into a deleted file through connections
already open, so local mode checks the file is still the one it opened before every transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from andon.errors import StoreError
from andon.store.dialect import cap_lock_waits


def limit_lock_waits(engine: Engine, seconds: float) -> None:
    """Make new connections wait at most ``seconds`` for a lock held by another writer."""
    cap_lock_waits(engine, seconds)
    engine.dispose()  # connections opened while migrating predate the hook


def file_guard(engine: Engine, path: Path) -> Callable[[], None]:
    """A check that raises StoreError when the SQLite file is gone, and reconnects when it was replaced."""
    path = path.resolve()
    stat = path.stat()
    identity = [stat.st_dev, stat.st_ino]

    def check() -> None:
        try:
            now = path.stat()
        except FileNotFoundError:
            raise StoreError(
                f"the store {path} is gone (deleted or moved); writes fail closed and events are spooled "
                "until it is back"
            ) from None
        if [now.st_dev, now.st_ino] != identity:
            engine.dispose()  # pooled connections still point at the old file
            identity[:] = [now.st_dev, now.st_ino]

    return check
