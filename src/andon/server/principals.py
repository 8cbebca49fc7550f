"""Who is calling: roles, the principal behind a request, and what each role may do.

Human roles are ordered ``viewer < responder < approver < admin``. ``agent`` is a service account
outside that ladder: it may submit decisions and events for its own workflows and read what an agent
needs, nothing else. ``admin`` may do everything, including what agents do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

Role = Literal["viewer", "responder", "approver", "admin", "agent"]
HumanRole = Literal["viewer", "responder", "approver", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
HUMAN_ROLES: tuple[HumanRole, ...] = get_args(HumanRole)
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(HUMAN_ROLES)}


def check_role(value: str) -> Role:
    """``value`` as a Role, or ValueError naming the roles there are."""
    if value not in ROLES:
        raise ValueError(f"unknown role {value!r}; use one of {', '.join(ROLES)}")
    return value


def role_allows(have: Role, need: Role, *, agents: bool = False) -> bool:
    """Whether a principal with role ``have`` passes a gate for ``need``.

    ``need == "agent"`` admits agents and admins. A human ``need`` admits humans ranked at least as
    high, and agents too when ``agents`` is true (reads an agent process must make).
    """
    if have == "admin":
        return True
    if have == "agent":
        return need == "agent" or agents
    if need == "agent":
        return False
    return _RANK[have] >= _RANK[need]


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: an API key or a console user, with a role and the workflows it may touch."""

    kind: Literal["key", "user"]
    id: str
    actor: str  # recorded as "who" on every control change
    role: Role
    workflows: frozenset[str] | None  # None: every workflow
    expires_at: datetime | None = None
    csrf_token: str | None = None  # set for console sessions only

    def may_touch(self, workflow: str) -> bool:
        return self.workflows is None or workflow in self.workflows

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.id,
            "actor": self.actor,
            "role": self.role,
            "workflows": None if self.workflows is None else sorted(self.workflows),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
        }
