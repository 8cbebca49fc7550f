"""The server's helper processes: the decision writer and the incident watch, each with its own core.

One Python process runs one thread at a time. The HTTP event loop, the decision writer and the
incident watch's detectors each need about as much CPU as the others under load, and as threads of
one process they took turns: the server used one core of two and every request waited for the others.
Each now runs in a child process of the server, started by ``start``:

- from a fork server that has the control plane, the store and the incident modules imported already,
  so a child starts in milliseconds and never inherits the server's threads or open connections;
- with the server's environment and working directory (settings, the data directory and its keys,
  notification secrets), as of the moment it is started;
- ignoring Ctrl-C, which the terminal sends to the whole process group: the server stops, then stops
  its children in order (each child also ends when its socket to the server closes, so a server that
  was killed leaves no child behind);
- with what was loaded before ``target`` runs frozen out of the garbage collector's full passes.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

PRELOAD = ["andon.server.decisions", "andon.server.watch_process"]


def _run(cwd: str, env: dict[str, str], target: Callable[..., None], args: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    if not logging.getLogger().handlers:  # the server's logging setup is not inherited from the fork server
        name = multiprocessing.current_process().name
        fmt = f"%(asctime)s %(levelname)s [{name}] %(name)s: %(message)s"
        logging.basicConfig(level=logging.INFO, format=fmt)
    # As in the server (app.py): what the fork server imported is left out of full collections,
    # which otherwise walked it all (one of 85 ms in the incident watch during an 8 s bench run).
    gc.collect()
    gc.freeze()
    target(*args)


def start(target: Callable[..., None], *args: Any, name: str) -> BaseProcess:
    """Start ``target(*args)`` in a child process (see the module text); ``target`` must be importable."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    process = context.Process(
        target=_run, args=(os.getcwd(), dict(os.environ), target, args), name=name, daemon=True
    )
    process.start()
    return process


def stop(process: BaseProcess, timeout: float) -> None:
    """Wait up to ``timeout`` for a child told to stop; kill it if it has not."""
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(timeout)
