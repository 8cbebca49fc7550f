"""``/v1/keys``: create, list, show and revoke API keys (admin only). The key is in the create reply only."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from andon.server import apikeys
from andon.server.auth import EngineDep, KeyCacheDep, require
from andon.server.errors import ApiError, problem
from andon.server.principals import Principal, Role
from andon.store.types import utcnow

router = APIRouter(prefix="/v1/keys", tags=["keys"])
Admin = Annotated[Principal, Depends(require("admin"))]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="what the key is for")
    role: Role
    owner: str | None = Field(None, max_length=200, description="who answers for it; default: you")
    workflows: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        None, description="workflow ids the key may touch; omit for all (agent keys must name them)"
    )
    expires_at: AwareDatetime | None = None
    expires_in_days: int | None = Field(None, ge=1, le=3650)

    @model_validator(mode="after")
    def _agents_name_workflows(self) -> KeyCreate:
        if self.role == "agent" and not self.workflows:
            raise ValueError("an agent key must be scoped to at least one workflow; list them in 'workflows'")
        return self


def expiry(body: KeyCreate) -> Any:
    if body.expires_at is not None and body.expires_in_days is not None:
        raise ApiError(
            422,
            "give expires_at or expires_in_days, not both",
            errors=[problem("conflict", "give one of the two", "body.expires_in_days")],
        )
    if body.expires_in_days is not None:
        return utcnow() + timedelta(days=body.expires_in_days)
    return body.expires_at


@router.post("", status_code=201)
def create_key(body: KeyCreate, admin: Admin, engine: EngineDep) -> dict[str, Any]:
    """Create a key; ``key`` in the reply is shown this once and never stored."""
    with engine.begin() as conn:
        new = apikeys.create_key(
            conn,
            name=body.name,
            role=body.role,
            owner=body.owner,
            workflows=body.workflows,
            expires_at=expiry(body),
            created_by=admin.actor,
        )
    return {**new.record, "key": new.secret}


@router.get("")
def list_keys(admin: Admin, engine: EngineDep, include_revoked: bool = True) -> dict[str, Any]:
    """Every key (never the key itself), oldest first."""
    with engine.begin() as conn:
        return {"keys": apikeys.list_keys(conn, include_revoked=include_revoked)}


@router.get("/{key_id}")
def get_key(key_id: str, admin: Admin, engine: EngineDep) -> dict[str, Any]:
    with engine.begin() as conn:
        record = apikeys.get_key(conn, key_id)
    if record is None:
        raise ApiError(404, f"no API key {key_id!r}", code="not_found")
    return record


@router.delete("/{key_id}")
def revoke_key(key_id: str, admin: Admin, engine: EngineDep, key_cache: KeyCacheDep) -> dict[str, Any]:
    """Revoke a key at once; it keeps its record (who revoked it, when) for the audit trail."""
    with engine.begin() as conn:
        record = apikeys.revoke_key(conn, key_id, revoked_by=admin.actor)
    key_cache.forget(key_id)
    if record is None:
        raise ApiError(404, f"no API key {key_id!r}", code="not_found")
    return record
