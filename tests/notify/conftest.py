from __future__ import annotations

from collections.abc import Iterator

import pytest

from .receivers import HttpReceiver


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    """A real HTTP server on 127.0.0.1 that records requests and can be told to fail."""
    server = HttpReceiver().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    """Collects backoff waits instead of sleeping them, so retry tests take milliseconds."""
    return []
