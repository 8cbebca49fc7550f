"""``GET /v1/stream``: server-sent events of control changes (switches, versions, runbook revisions).

Each event is ``event: control`` with ``id: <epoch>.<revision>`` and data
``{"epoch", "revision", "switches": [Switch]}`` (switches in force within the caller's scope). On
connecting, the current state is sent at once unless ``Last-Event-ID`` names it, so a client that
reconnects learns what it missed in one event. A comment line every 10 s keeps idle connections
(and proxies) alive. ``?seconds=N`` ends the stream after N seconds (``0``: the current state, then
close — a snapshot for scripts). Clients keep their in-process copy of the state from these events: a new
``revision`` means reloading ``GET /v1/control/state``; otherwise the switches are all that changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from andon.server.auth import require
from andon.server.feed import ControlFeed
from andon.server.principals import Principal

router = APIRouter(prefix="/v1", tags=["control"])
Reader = Annotated[Principal, Depends(require("viewer", agents=True))]
RETRY_MS = 1000


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def stream(
    request: Request,
    who: Reader,
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
    seconds: Annotated[float | None, Query(ge=0, le=86400, description="end the stream after this")] = None,
) -> StreamingResponse:
    """Control changes as server-sent events; resume with ``Last-Event-ID``."""
    feed: ControlFeed = request.app.state.feed
    until = None if seconds is None else time.monotonic() + seconds

    async def events() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n\n".encode()
        async for snap in feed.follow(last_event_id, until=until):
            if snap is None:
                yield b": heartbeat\n\n"
                continue
            data = json.dumps(snap.data(who.may_touch), separators=(",", ":"))
            yield f"id: {snap.id}\nevent: control\ndata: {data}\n\n".encode()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
