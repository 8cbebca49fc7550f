"""The server's incident watch (detectors → incidents → containment) in a child process of its own.

``IncidentWatch`` is the same one ``andon`` embeds anywhere; here it follows the ledger in a child
(see ``children``) so its detectors do not take turns with the HTTP event loop. ``WatchProcess``
starts the child and waits until it follows the ledger — what was appended before that is warm-up,
not acted on — and stops it when the server stops. Every replica runs one; the store deduplicates
incidents between them.
"""

from __future__ import annotations

import logging
import socket
from multiprocessing.connection import Connection

from sqlalchemy.engine import Engine

from andon.errors import AndonError, StoreError
from andon.incidents.escalate import dispatcher_from_config
from andon.incidents.service import IncidentDesk
from andon.incidents.watch import IncidentWatch
from andon.server import audit, children
from andon.store import create_engine

log = logging.getLogger("andon.incidents")
READY = b"following"
START_TIMEOUT = 60.0  # warming up reads the latest events; a large ledger on a slow disk takes a while


def server_desk(engine: Engine) -> IncidentDesk:
    """The incident desk of a server process: signed with the data directory's key, paging as configured."""
    try:
        dispatcher = dispatcher_from_config()
    except AndonError as exc:  # a broken notify config must not stop the server or containment; logged loudly
        log.error("incident notifications are off: %s", exc)
        dispatcher = None
    return IncidentDesk(engine, signer=audit.signer, dispatcher=dispatcher)


def _watch(conn: Connection, url: str, schema: str | None) -> None:
    """The child: follow until the server closes its end of ``conn``."""
    engine = create_engine(url, schema=schema)
    try:
        watch = IncidentWatch(engine, desk=server_desk(engine))
        try:
            watch.start()
        except Exception:  # the server refuses to start without it, naming the log
            log.exception("the incident watch could not start")
            return
        try:
            conn.send_bytes(READY)
            conn.recv_bytes()  # nothing is ever sent: this returns (EOF) when the server stops or dies
        except (EOFError, OSError):
            pass
        finally:
            watch.stop()
    finally:
        engine.dispose()


class WatchProcess:
    """The incident watch of one server process, in a child; ``stop()`` when the server stops."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        ours, theirs = socket.socketpair()
        self.conn = Connection(ours.detach())
        child_end = Connection(theirs.detach())
        self.process = children.start(_watch, child_end, url, schema, name="andon-incident-watch")
        child_end.close()
        try:
            ready = self.conn.poll(START_TIMEOUT) and self.conn.recv_bytes() == READY
        except (EOFError, OSError):
            ready = False
        if not ready:
            self.stop()
            raise StoreError(
                "the incident watch did not start (the server log has why); incidents would go undetected"
            )

    def stop(self, timeout: float = 10.0) -> None:
        self.conn.close()
        children.stop(self.process, timeout)
