"""``/v1/whoami``: the principal behind the request (any key or session)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from andon.server.auth import require
from andon.server.principals import Principal

router = APIRouter(prefix="/v1", tags=["auth"])


@router.get("/whoami")
def whoami(principal: Annotated[Principal, Depends(require("any"))]) -> dict[str, Any]:
    """Who you are: kind (key or user), actor recorded on your changes, role and workflow scope."""
    return principal.as_dict()
