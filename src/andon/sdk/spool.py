"""A file spool: what could not be delivered to the store or server waits here, durably, in order.

One JSON file per entry, written to a temporary name, fsynced and renamed, so a crash leaves either the
whole entry or nothing. Entries are delivered oldest first and deleted only after the store accepted
them; batches carry an id the store remembers, so an entry delivered twice is appended once.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data; anything JSON cannot hold becomes its ``repr``."""
    return json.loads(json.dumps(value, default=repr))


class Spool:
    """A directory of pending entries (``{"type": "events" | "outcome", ...}``)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def put(self, entry: dict[str, Any]) -> Path:
        """Store one entry durably; returns its file."""
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.json"
        final = self.directory / name
        tmp = self.directory / f".{name}.tmp"
        data = json.dumps(entry, default=repr, separators=(",", ":")).encode()
        # Owner-only: entries hold payloads as the agent made them, before the ledger masks them.
        with self._lock, open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
        return final

    def pending(self) -> list[Path]:
        """Entry files, oldest first."""
        return sorted(p for p in self.directory.glob("*.json") if not p.name.startswith("."))

    def __len__(self) -> int:
        return len(self.pending())

    def entries(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """(file, entry) oldest first; an unreadable file is renamed ``*.bad`` and skipped, never lost."""
        for path in self.pending():
            try:
                yield path, json.loads(path.read_text())
            except FileNotFoundError:
                continue  # delivered by another flusher meanwhile
            except (OSError, ValueError):
                path.rename(path.with_suffix(".bad"))

    def done(self, path: Path) -> None:
        path.unlink(missing_ok=True)
