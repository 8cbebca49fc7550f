"""Console: the audit explorer, one event with its proof, verify, and the runbook page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from andon.store.tables import ledger_events

if TYPE_CHECKING:
    from tests.server.conftest import Server

pytestmark = pytest.mark.anyio

TRIAGE = (Path(__file__).resolve().parents[2] / "examples" / "support-triage.yaml").read_text(
    encoding="utf-8"
)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("ANDON_DATA_DIR", str(folder))
    return folder


async def seed(server: Server, count: int) -> None:
    response = await server.client.post(
        "/v1/runbook/revisions",
        content=TRIAGE,
        headers={"Content-Type": "application/yaml", **server.auth("admin")},
    )
    assert response.status_code == 201, response.text
    events: list[dict[str, Any]] = [
        {
            "kind": ("model_call", "decision")[i % 2],
            "actor": f"bot-{i % 3}",
            "workflow": "support-triage",
            "run_id": f"run-{i // 10}",
            "payload": {"ticket": f"T-{i}", "queue": "billing"},
        }
        for i in range(count)
    ]
    appended = await server.client.post("/v1/events", json={"events": events}, headers=server.auth("agent"))
    assert appended.status_code == 201, appended.text


def indexes(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td data-label="#"><a href="/console/audit/(\d+)">', html)]


async def test_explorer_lists_newest_first_and_pages_by_cursor(server: Server) -> None:
    await seed(server, 60)
    await server.login("vera", "viewer")
    page = await server.client.get("/console/audit")
    assert page.status_code == 200
    assert indexes(page.text) == list(range(59, 9, -1))
    assert "60 events in the ledger" in page.text and "no signed checkpoint yet" in page.text
    assert "bot-2" in page.text and "run-5" in page.text and "queue=billing ticket=T-59" in page.text
    assert '<a href="/console/audit" aria-current="page">Audit</a>' in page.text
    older = re.search(r'<a href="([^"]+)" rel="next">', page.text)
    assert older is not None
    rest = await server.client.get(older.group(1).replace("&amp;", "&"))
    assert indexes(rest.text) == list(range(9, -1, -1))
    assert 'rel="next"' not in rest.text


async def test_explorer_filters_by_kind_run_and_time(server: Server) -> None:
    await seed(server, 30)
    await server.login("vera", "viewer")
    page = await server.client.get("/console/audit", params={"kind": "decision", "run_id": "run-1"})
    assert indexes(page.text) == [19, 17, 15, 13, 11]
    assert "<option selected>decision</option>" in page.text
    future = await server.client.get("/console/audit", params={"since": "2999-01-01T00:00"})
    assert indexes(future.text) == [] and "No events match these filters." in future.text
    twin = re.search(r'JSON: <a href="([^"]+)">', future.text)
    assert twin is not None and twin.group(1).startswith("/v1/events?since=2999-01-01T00")
    assert (await server.client.get(twin.group(1).replace("&amp;", "&"))).json()["events"] == []
    bad = await server.client.get("/console/audit", params={"since": "last tuesday"})
    assert bad.status_code == 422 and "is not a date and time" in bad.text


async def test_event_page_shows_canonical_json_and_a_verified_proof(server: Server) -> None:
    await seed(server, 5)
    csrf = await server.login("rita", "responder")
    before = await server.client.get("/console/audit/3")
    assert before.status_code == 200
    assert "will be in the next one" in before.text and "Sign a checkpoint now" in before.text
    assert "&#34;index&#34;:3" in before.text  # the canonical bytes, escaped
    signed = await server.client.post("/console/audit/checkpoint?back=3", data={"csrf_token": csrf})
    assert signed.status_code == 303 and signed.headers["location"] == "/console/audit/3"
    after = await server.client.get("/console/audit/3")
    assert "✔ This event's bytes hash into the root of the checkpoint of 5 events" in after.text
    assert "✔ The checkpoint's signature verifies with the ledger key." in after.text
    assert (await server.client.get("/console/audit/99")).status_code == 404


async def test_checkpoint_form_needs_csrf_and_a_responder(server: Server) -> None:
    await seed(server, 2)
    await server.login("rita", "responder")
    assert (await server.client.post("/console/audit/checkpoint", data={})).status_code == 403
    await server.client.post("/console/logout", data={"csrf_token": ""})
    server.client.cookies.clear()
    csrf = await server.login("vera", "viewer")
    page = await server.client.get("/console/audit/1")
    assert "Sign a checkpoint now" not in page.text
    assert (
        await server.client.post("/console/audit/checkpoint", data={"csrf_token": csrf})
    ).status_code == 403


async def test_verify_button_reports_an_intact_then_a_tampered_ledger(server: Server) -> None:
    await seed(server, 10)
    await server.client.post("/v1/ledger/checkpoint", headers=server.auth("responder"))
    await server.login("vera", "viewer")
    explorer = await server.client.get("/console/audit")
    assert 'action="/console/audit/verify"' in explorer.text and "Verify ledger" in explorer.text
    intact = await server.client.get("/console/audit/verify")
    assert "✔ The ledger is intact" in intact.text and "10 of 10" in intact.text
    with server.engine.begin() as conn:
        conn.execute(ledger_events.delete().where(ledger_events.c.idx == 4))
    broken = await server.client.get("/console/audit/verify")
    assert "✘ The ledger has" in broken.text and "the first bad event is 4" in broken.text
    assert '<a href="/console/audit/4">4</a>' in broken.text


async def test_runbook_page_renders_the_newest_revision_and_lists_revisions(server: Server) -> None:
    await server.login("vera", "viewer")
    empty = await server.client.get("/console/runbook")
    assert empty.status_code == 200 and "No runbook is applied yet" in empty.text
    admin = {"Content-Type": "application/yaml", **server.auth("admin")}
    await server.client.post("/v1/runbook/revisions", content=TRIAGE, headers=admin)
    await server.client.post(
        "/v1/runbook/revisions", content=TRIAGE.replace("Support triage", "Ticket triage"), headers=admin
    )
    page = await server.client.get("/console/runbook")
    assert "Revision 2, applied by tests" in page.text
    assert "Workflow: Ticket triage" in page.text and "<style>" not in page.text
    assert '<a href="/console/runbook?revision=1">1</a>' in page.text
    first = await server.client.get("/console/runbook?revision=1")
    assert "Workflow: Support triage" in first.text
    assert (await server.client.get("/console/runbook?revision=9")).status_code == 404


async def test_console_pages_need_a_login(server: Server) -> None:
    for path in ("/console/audit", "/console/audit/verify", "/console/audit/0", "/console/runbook"):
        response = await server.client.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/console/login?next=")


async def test_explorer_with_a_scoped_key_shows_only_its_workflows(server: Server) -> None:
    await seed(server, 3)
    scoped = {"Authorization": f"Bearer {server.new_key('viewer', workflows=['quote-estimates'])}"}
    page = await server.client.get("/console/audit", headers=scoped)
    assert page.status_code == 200 and indexes(page.text) == []
    assert (await server.client.get("/console/audit/1", headers=scoped)).status_code == 404


async def test_tampered_event_page_says_the_proof_fails(server: Server) -> None:
    await seed(server, 4)
    await server.client.post("/v1/ledger/checkpoint", headers=server.auth("responder"))
    with server.engine.begin() as conn:
        data = conn.execute(sa.select(ledger_events.c.data).where(ledger_events.c.idx == 2)).scalar_one()
        changed = bytes(data).replace(b"T-2", b"T-7")
        conn.execute(ledger_events.update().where(ledger_events.c.idx == 2).values(data=changed))
    await server.login("vera", "viewer")
    page = await server.client.get("/console/audit/2")
    assert "✘ event 2 does not verify against the checkpoint of size 4" in page.text
