"""Integer request parameters bounded to what the store can hold.

SQLite and PostgreSQL keep integers in 64 bits; a larger number in a path or query (an event index,
a revision) must be a 422 naming the parameter, not an overflow inside the driver.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

INT64_MAX = 2**63 - 1

LeafIndex = Annotated[int, Path(ge=0, le=INT64_MAX, description="a leaf index of the ledger")]
RevisionNumber = Annotated[int, Path(ge=1, le=INT64_MAX, description="a runbook revision number")]
Position = Annotated[int, Path(ge=0, le=INT64_MAX)]


def index_query(*, ge: int, description: str | None = None) -> object:
    """A ``Query`` for an optional leaf index (or cursor) with the store's upper bound."""
    return Query(ge=ge, le=INT64_MAX, description=description)
