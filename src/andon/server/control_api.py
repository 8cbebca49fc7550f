"""What the control routers share: the ``StoreControl`` of an app, and control refusals as error bodies.

The /v1 control API (docs/api.md) maps each route onto one ``StoreControl`` method. Refusals keep
the one error body; ``Denied`` and ``ApprovalPending`` carry what the SDK needs in ``errors[0]``
(``reason``, ``rule``, ``fallback`` / ``approval_id``), and "no such id" is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.engine import Engine

from andon.control.service import StoreControl
from andon.errors import ApprovalPending, ControlError, Denied
from andon.server.auth import get_engine
from andon.server.errors import ApiError, problem
from andon.server.principals import Principal
from andon.store import reading
from andon.store.tables import control_actions

_NO_SUCH_ID = re.compile(r"^no (approval|version|action|switch) '")


async def get_control(request: Request) -> StoreControl:
    """The app's control service over its store engine (made once per app; async: no thread hop)."""
    engine = get_engine(request)
    control: StoreControl | None = getattr(request.app.state, "control", None)
    if control is None or control.engine is not engine:
        control = StoreControl(engine)
        request.app.state.control = control
    return control


ControlDep = Annotated[StoreControl, Depends(get_control)]


def changed(request: Request) -> None:
    """Tell this process's stream clients about a control change it just committed (no poll delay)."""
    feed = getattr(request.app.state, "feed", None)
    if feed is not None:
        feed.poke()


def refusal(exc: ControlError) -> ApiError:
    """A control-plane refusal as the API's error (409, or 404 for an unknown id)."""
    message = str(exc)
    if isinstance(exc, Denied):
        entry = {
            **problem("denied", message),
            "reason": exc.reason,
            "rule": exc.rule,
            "fallback": exc.fallback,
        }
        return ApiError(409, message, code="denied", errors=[entry])
    if isinstance(exc, ApprovalPending):
        entry = {**problem("approval_pending", message), "approval_id": exc.approval_id, "rule": exc.rule}
        return ApiError(409, message, code="approval_pending", errors=[entry])
    if _NO_SUCH_ID.match(message):
        return ApiError(404, message, code="not_found")
    return ApiError(409, message, code="conflict")


@contextmanager
def refused_as_errors() -> Iterator[None]:
    """Turn a ``ControlError`` raised inside the block into the API's error answer."""
    try:
        yield
    except ControlError as exc:
        raise refusal(exc) from None


def action_workflow(engine: Engine, action_id: str) -> str:
    """The workflow a decided action belongs to, or 404."""
    with reading(engine) as conn:
        found = conn.execute(
            sa.select(control_actions.c.workflow).where(control_actions.c.id == action_id)
        ).scalar()
    if found is None:
        raise ApiError(404, f"no action '{action_id}'", code="not_found")
    return str(found)


def ensure_every_workflow(principal: Principal, what: str) -> None:
    """403 unless ``principal`` may touch every workflow (a change with no workflow applies to all)."""
    if principal.workflows is not None:
        raise ApiError(
            403,
            f"{what} without a workflow applies to every workflow; {principal.kind} {principal.id} "
            f"is scoped to {', '.join(sorted(principal.workflows))}: name one of them",
            code="forbidden",
        )
