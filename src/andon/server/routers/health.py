"""``/healthz``: is this process up and can it reach its store."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from andon.server.auth import EngineDep
from andon.server.errors import ApiError
from andon.store import reading

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(engine: EngineDep) -> dict[str, Any]:
    """200 with the store's dialect and schema revision; 503 when the store does not answer."""
    try:
        with reading(engine) as conn:
            revision = conn.execute(sa.text("select version_num from alembic_version")).scalar()
    except sa.exc.SQLAlchemyError as exc:
        raise ApiError(
            503, f"the store does not answer: {type(exc).__name__}", code="store_unavailable"
        ) from exc
    return {"ok": True, "store": engine.dialect.name, "schema_revision": revision}
