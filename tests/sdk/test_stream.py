"""Connect mode follows the server's control stream: a pause reaches every client without polling,
and a client that lost the server catches up when it is back (Last-Event-ID)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from andon.control.decide import Action, decide
from andon.control.service import StoreControl
from andon.sdk.client import Andon
from andon.sdk.http import HttpControl
from andon.server.settings import Settings
from live_server import LiveServer

NO_POLLING = 3600.0  # refresh interval: only the stream can bring a change within the test
WAIT = 10.0


@pytest.fixture
def settings(store: tuple[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ANDON_DATA_DIR", str(tmp_path / "data"))
    url, schema = store
    return Settings(database_url=url, database_schema=schema)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    srv = LiveServer(settings)
    yield srv
    srv.stop()


def eventually(check: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


def reads_allowed(a: Andon) -> bool:
    return (
        decide(a.state, Action("support-triage", "helpdesk.read_ticket"), now=time.time()).outcome == "allow"
    )


def clients(server: LiveServer, tmp_path: Path, n: int) -> list[Andon]:
    token = server.key("agent", owner="svc-triage", workflows=["support-triage"])
    made = [
        Andon.connect(
            server.url,
            token=token,
            actor="svc-triage",
            spool_dir=tmp_path / f"spool{i}",
            refresh_interval=NO_POLLING,
        )
        for i in range(n)
    ]
    for a in made:
        assert a._stream is not None and a._stream.connected.wait(WAIT)
    return made


def test_a_pause_reaches_every_connected_client_and_resume_lifts_it(
    server: LiveServer, tmp_path: Path
) -> None:
    agents = clients(server, tmp_path, 6)
    ops = HttpControl(server.url, token=server.key("responder", owner="ops-lead"))
    try:
        assert all(reads_allowed(a) for a in agents)
        ops.set_switch(
            kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason="bad prompt"
        )
        assert all(eventually(lambda a=a: not reads_allowed(a)) for a in agents)
        assert {a.state.switches[0].actor for a in agents} == {"ops-lead"}

        ops.clear_switches(
            workflow="support-triage", kinds=("pause_workflow",), actor="ops-lead", reason="ok"
        )
        assert all(eventually(lambda a=a: reads_allowed(a)) for a in agents)
    finally:
        for a in agents:
            a.close()


def test_a_client_catches_up_after_the_server_comes_back(
    server: LiveServer, settings: Settings, operator: StoreControl, tmp_path: Path
) -> None:
    (a,) = clients(server, tmp_path, 1)
    back: LiveServer | None = None
    try:
        port = server.port
        server.stop()
        assert eventually(lambda: not a._stream.connected.is_set())  # type: ignore[union-attr]
        # While the server is away, a responder pauses through the store (the CLI on the server box).
        operator.set_switch(
            kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason="outage"
        )
        assert reads_allowed(a)  # the client cannot know yet
        back = LiveServer(settings, port=port)
        assert eventually(lambda: not reads_allowed(a))
    finally:
        a.close()
        if back is not None:
            back.stop()


def test_streamed_switch_changes_also_reload_live_versions(server: LiveServer, tmp_path: Path) -> None:
    (a,) = clients(server, tmp_path, 1)
    lead = HttpControl(server.url, token=server.key("approver", owner="support-lead"))
    try:
        assert a.prompt("support-triage", "triage-system") is None
        lead.publish_version(
            workflow="support-triage",
            kind="prompt",
            name="triage-system",
            content="be careful",
            actor="x",
            live=True,
        )
        assert eventually(lambda: a.prompt("support-triage", "triage-system") == "be careful")
    finally:
        a.close()


def epoch_polls(server: LiveServer, viewer: str) -> float:
    """How many ``GET /v1/control/epoch`` the server has answered (from its own /metrics)."""
    import httpx

    text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {viewer}"}).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("andon_http_request_seconds_count{") and 'route="/v1/control/epoch"' in line
    )


@pytest.mark.parametrize("stream", [True, False])
def test_a_streaming_client_polls_only_as_a_safety_net(
    server: LiveServer, tmp_path: Path, stream: bool
) -> None:
    viewer = server.key("viewer", owner="auditor")
    a = Andon.connect(
        server.url,
        token=server.key("agent", owner="svc-triage", workflows=["support-triage"]),
        actor="svc-triage",
        spool_dir=tmp_path / "spool",
        refresh_interval=0.05,
        stream=stream,
    )
    try:
        if stream:
            assert a._stream is not None and a._stream.connected.wait(WAIT)
        before = epoch_polls(server, viewer)
        time.sleep(1.0)
        polls = epoch_polls(server, viewer) - before
        assert polls <= 1 if stream else polls >= 5
    finally:
        a.close()


def test_a_streamed_pause_is_saved_for_a_restart_while_the_server_is_away(
    server: LiveServer, tmp_path: Path
) -> None:
    [a] = clients(server, tmp_path, 1)
    ops = HttpControl(server.url, token=server.key("responder", owner="ops-lead"))
    try:
        for reason in ("first", "second"):  # the runbook is written once, the switches each time
            ops.clear_switches(actor="ops-lead", reason="next", workflow="support-triage")
            ops.set_switch(kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason=reason)
            assert eventually(lambda r=reason: [s.reason for s in a.state.switches] == [r])
    finally:
        a.close()
    url = server.url
    server.stop()
    restarted = Andon.connect(url, token="andon_gone", actor="svc-triage", spool_dir=tmp_path / "spool0")
    try:
        assert restarted.state.workflows["support-triage"].fallback is not None
        assert [s.reason for s in restarted.state.switches] == ["second"]
        assert not reads_allowed(restarted)
    finally:
        restarted.close()
