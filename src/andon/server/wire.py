"""How the server meets the network: uvicorn with one change, an answer leaves in one send.

uvicorn's HTTP protocol writes an answer's head and its body to the socket in two calls, so every
answer costs two ``send`` system calls and, on the client's side, often two wake-ups. On the decision
path, which answers thousands of small requests a second, those sends were the largest single cost
of the server's event loop. ``HttpProtocol`` hands uvicorn a transport that gathers what is written
during one turn of the event loop and sends it at the end of that turn, in one call: the same bytes,
in the same order, microseconds later.

uvicorn's access log is off: its lines carry each request's raw path with the query string, where
an audit search can name a person (``?actor=jane@example.com``), and no personal data goes into
logs unmasked. What was asked and answered is in ``/metrics`` (by route template, never the raw
path) and, for every change, in the ledger.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

FLUSH_AT = 64 * 1024  # bytes gathered that are sent at once rather than at the end of the turn


class GatheringTransport:
    """A transport whose writes within one turn of the event loop leave together."""

    __slots__ = ("_loop", "_pending", "_pending_bytes", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._pending_bytes += len(data)
        if self._pending_bytes >= FLUSH_AT:
            # A large or long answer goes on at once, so the real transport's flow control (pause
            # when its buffer is full) still holds back a stream that never yields the loop.
            self.flush()

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Send what was gathered (called at the end of the turn, and before closing)."""
        if not self._pending:
            return
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        if not self._transport.is_closing():
            self._transport.write(b"".join(pending))  # one item: joined without a copy

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_bytes

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._pending_bytes = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a ``GatheringTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        gathering = GatheringTransport(transport, asyncio.get_running_loop())
        super().connection_made(gathering)  # type: ignore[arg-type]


# What every Andon server runs uvicorn with: ``HttpProtocol``, and no access log.
OPTIONS: dict[str, Any] = {"http": HttpProtocol, "access_log": False}


def config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for ``app`` with ``OPTIONS`` (for tests that run ``uvicorn.Server``)."""
    return uvicorn.Config(app, **OPTIONS, **options)


def run(app: Any, *, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` on ``host:port`` until Ctrl-C or SIGTERM (uvicorn exits 3 if it cannot start)."""
    uvicorn.run(app, host=host, port=port, log_level=log_level, **OPTIONS)
