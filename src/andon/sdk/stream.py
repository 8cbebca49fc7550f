"""Following the server's control stream (``GET /v1/stream``, server-sent events) in connect mode.

A background thread holds one streaming request open and hands each event's data to a callback, so a
pause reaches the agent's in-process copy of the control state as soon as the server sees it, instead
of at the next poll. When the connection drops it reconnects (0.2 s, doubling up to 5 s) and sends
``Last-Event-ID``, so the server answers with the current state if anything changed meanwhile.
Standard library only, like ``andon.sdk.http``; the SDK's polling stays on as the fallback.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("andon.sdk")
READ_TIMEOUT = 35.0  # the server sends a heartbeat every 10 s; three missed ones mean a dead connection
MAX_BACKOFF = 5.0


class StateStream:
    """Calls ``on_event(data)`` for every ``control`` event of the server's stream, until ``close()``."""

    def __init__(
        self,
        *,
        scheme: str,
        host: str,
        port: int | None,
        path: str,
        token: str,
        on_event: Callable[[dict[str, Any]], None],
    ) -> None:
        self._connection_class: type[http.client.HTTPConnection] = (
            http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        )
        self.host = host
        self.port = port
        self.path = path
        self.token = token
        self.on_event = on_event
        self.last_id: str | None = None
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._run, name="andon-stream", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read
        self._thread.join(timeout=2)

    def _run(self) -> None:
        delay = 0.2
        while not self._stop.is_set():
            try:
                self._follow()
                delay = 0.2  # the server ended a healthy stream (restart, deploy): come back quickly
            except Exception as exc:
                if self._stop.is_set():
                    return
                log.debug("andon: control stream interrupted (%s); reconnecting in %.1fs", exc, delay)
            finally:
                self.connected.clear()
            self._stop.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF)

    def _follow(self) -> None:
        conn = self._connection_class(self.host, self.port, timeout=READ_TIMEOUT)
        self._conn = conn
        try:
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "text/event-stream"}
            if self.last_id is not None:
                headers["Last-Event-ID"] = self.last_id
            conn.request("GET", self.path, headers=headers)
            response = conn.getresponse()
            if response.status != 200:
                raise ConnectionError(f"the server answered {response.status} to GET {self.path}")
            self.connected.set()
            self._read(response)
        finally:
            self._conn = None
            conn.close()

    def _read(self, response: http.client.HTTPResponse) -> None:
        event, ident = "message", None
        data: list[str] = []
        while not self._stop.is_set():
            raw = response.readline()
            if not raw:
                return  # the server closed the stream
            line = raw.decode("utf-8").rstrip("\r\n")
            if line == "":
                if data and event == "control":
                    self._deliver("\n".join(data), ident)
                event, data, ident = "message", [], None
                continue
            if line.startswith(":"):
                continue  # heartbeat
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                ident = value

    def _deliver(self, payload: str, ident: str | None) -> None:
        try:
            self.on_event(json.loads(payload))
        except Exception:
            # A bad event or a failing refresh must not stop the stream; polling covers the gap.
            log.exception("andon: could not apply a control stream event")
        if ident is not None:
            self.last_id = ident
