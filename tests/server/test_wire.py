"""``andon.server.wire``: an answer leaves in one send, on real sockets and a real server."""

from __future__ import annotations

import asyncio
import socket

import pytest

from andon.server.settings import Settings
from andon.server.wire import FLUSH_AT, GatheringTransport
from live_server import LiveServer


async def _pair() -> tuple[asyncio.Transport, socket.socket]:
    """A real asyncio transport over one end of a socket pair, and the other end."""
    ours, theirs = socket.socketpair()
    transport, _ = await asyncio.get_running_loop().connect_accepted_socket(asyncio.Protocol, ours)
    theirs.setblocking(False)
    return transport, theirs


def _received(sock: socket.socket) -> list[bytes]:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return chunks
        if not chunk:
            return chunks
        chunks.append(chunk)


@pytest.mark.anyio
async def test_writes_in_one_turn_leave_together_at_its_end() -> None:
    transport, peer = await _pair()
    gathering = GatheringTransport(transport, asyncio.get_running_loop())
    gathering.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    gathering.write(memoryview(b"{}"))
    assert _received(peer) == []  # nothing sent within the turn
    assert gathering.get_write_buffer_size() == 40
    await asyncio.sleep(0)
    await asyncio.sleep(0.01)
    assert _received(peer) == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    gathering.writelines([b"a", b"b"])
    await asyncio.sleep(0.01)
    assert _received(peer) == [b"ab"]
    transport.close()
    peer.close()


@pytest.mark.anyio
@pytest.mark.parametrize(("end", "sent"), [("close", b"last words"), ("abort", b"")])
async def test_close_sends_what_was_gathered_first_and_abort_drops_it(end: str, sent: bytes) -> None:
    transport, peer = await _pair()
    gathering = GatheringTransport(transport, asyncio.get_running_loop())
    gathering.write(b"last words")
    getattr(gathering, end)()
    await asyncio.sleep(0.01)
    assert b"".join(_received(peer)) == sent
    assert gathering.is_closing()  # the rest is the real transport's
    peer.close()


@pytest.mark.anyio
async def test_a_large_answer_goes_on_at_once_so_flow_control_still_holds() -> None:
    transport, peer = await _pair()
    gathering = GatheringTransport(transport, asyncio.get_running_loop())
    gathering.write(b"x" * 100)
    gathering.write(b"y" * FLUSH_AT)  # within the same turn
    assert gathering.get_write_buffer_size() == transport.get_write_buffer_size()
    await asyncio.sleep(0.01)
    assert b"".join(_received(peer)) == b"x" * 100 + b"y" * FLUSH_AT
    transport.close()
    peer.close()


@pytest.fixture
def live(tmp_path) -> LiveServer:  # type: ignore[no-untyped-def]
    server = LiveServer(Settings(database_url=f"sqlite:///{tmp_path / 'andon.db'}"))
    yield server
    server.stop()


def test_an_answer_arrives_whole_in_one_read(live: LiveServer) -> None:
    """Head and body in one segment: one read on the client gets the whole answer."""
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        for _ in range(3):  # keep-alive: every answer on the connection is whole
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            data = sock.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            assert len(body) == length and body.startswith(b"{")


def test_a_request_that_asks_to_close_gets_its_answer_before_the_close(live: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.rstrip().endswith(b"}")
