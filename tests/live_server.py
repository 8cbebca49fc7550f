"""The real server (``andon.server.app.create_app``) on a real 127.0.0.1 port, in a thread, for tests
where the network itself is under test: the SDK's connect mode and the server-sent-events stream.

``LiveServer(settings)`` starts uvicorn as ``andon serve`` does (``andon.server.wire``) and waits
until it answers; ``stop()`` takes it away like a crash would (listening socket closed, open
connections dropped); ``LiveServer(settings, port=old.port)`` brings it back on the same port.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn
from sqlalchemy.engine import Engine

from andon.server import apikeys, wire
from andon.server.app import create_app
from andon.server.settings import Settings


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class LiveServer:
    """``create_app(settings)`` served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, settings: Settings, *, port: int = 0) -> None:
        self.app = create_app(settings)
        self.socket = _listen(port)
        self.port: int = self.socket.getsockname()[1]
        config = wire.config(self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the test server on port {self.port} did not start")
            time.sleep(0.01)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.socket]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def engine(self) -> Engine:
        engine: Engine = self.app.state.engine
        return engine

    def key(self, role: str, *, owner: str, workflows: list[str] | None = None) -> str:
        """A new API key with ``role`` whose changes are recorded as ``owner``."""
        with self.engine.begin() as conn:
            new = apikeys.create_key(
                conn,
                name=f"{owner} ({role})",
                role=role,
                owner=owner,
                workflows=workflows,
                created_by="tests",
            )
        return new.secret

    def stop(self) -> None:
        """Go away mid-test: stop listening, drop idle connections, cut open streams after a second."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
