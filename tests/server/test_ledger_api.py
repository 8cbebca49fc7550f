"""``/v1/events``, ``/v1/ledger`` and ``/v1/evidence`` over the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa

from andon.ledger.log import tree_size
from andon.store.tables import ledger_events

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, Server

pytestmark = pytest.mark.anyio

TRIAGE = (Path(__file__).resolve().parents[2] / "examples" / "support-triage.yaml").read_text(
    encoding="utf-8"
)


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The signing and redaction keys live here, not in the working directory."""
    folder = tmp_path / "data"
    monkeypatch.setenv("ANDON_DATA_DIR", str(folder))
    return folder


async def apply_runbook(server: Server) -> None:
    response = await server.client.post(
        "/v1/runbook/revisions",
        content=TRIAGE,
        headers={"Content-Type": "application/yaml", **server.auth("admin")},
    )
    assert response.status_code == 201, response.text


def event(n: int, **extra: Any) -> dict[str, Any]:
    kind = ("model_call", "decision", "action_outcome")[n % 3]
    return {
        "kind": kind,
        "actor": "triage-bot",
        "workflow": "support-triage",
        "run_id": f"run-{n // 10}",
        "payload": {"n": n, "tool": "helpdesk.route"},
        **extra,
    }


async def post_events(server: Server, events: list[dict[str, Any]], **extra: Any) -> Any:
    return await server.client.post(
        "/v1/events", json={"events": events, **extra}, headers=server.auth("agent")
    )


def stored(server: Server) -> int:
    with server.engine.connect() as conn:
        return tree_size(conn)


async def test_agent_appends_a_batch_and_gets_gapless_indexes(server: Server) -> None:
    await apply_runbook(server)
    first = await post_events(server, [event(i) for i in range(5)])
    assert first.status_code == 201, first.text
    assert first.json() == {"appended": 5, "indexes": [0, 1, 2, 3, 4], "batch_id": None, "duplicate": False}
    second = await post_events(server, [event(5)])
    assert second.json()["indexes"] == [5]
    metrics = await server.client.get("/metrics", headers=server.auth("viewer"))
    assert 'andon_events_appended_total{kind="model_call"} 2.0' in metrics.text


async def test_a_batch_sent_twice_is_stored_once(server: Server) -> None:
    await apply_runbook(server)
    batch = [event(i) for i in range(3)]
    assert (await post_events(server, batch, batch_id="b-1")).json()["appended"] == 3
    again = await post_events(server, batch, batch_id="b-1")
    assert again.status_code == 201 and again.json()["duplicate"] is True and again.json()["appended"] == 0
    assert stored(server) == 3


@pytest.mark.parametrize(
    ("events", "status", "location"),
    [
        ([{**event(0), "kind": "telepathy"}], 422, "body.events.0.kind"),
        ([{**event(0), "kind": 5}], 422, "body.events.0.kind"),
        ([{**event(0), "payload": ["not", "a", "dict"]}], 422, "body.events.0.payload"),
        ([{**event(0), "actor": ""}], 422, "body.events.0.actor"),
        ([{**event(0), "time": "2026-11-22T10:00:00"}], 422, "body.events.0.time"),
        ([{**event(0), "colour": "red"}], 422, "body.events.0.colour"),
        ([event(0), {**event(1), "workflow": "quote-estimates"}], 403, "body.events.1.workflow"),
        ([{**event(0), "workflow": None}], 403, "body.events.0.workflow"),
        ([], 422, "body.events"),
        ([event(0)] * 1001, 422, "body.events"),
    ],
)
async def test_bad_batches_get_one_error_body_and_store_nothing(
    server: Server, error_body: ErrorBody, events: list[dict[str, Any]], status: int, location: str
) -> None:
    await apply_runbook(server)
    body = error_body(await post_events(server, events), status)
    assert location in [e["location"] for e in body["errors"]], body
    assert stored(server) == 0


async def test_unknown_workflow_is_refused_for_admins_too(server: Server, error_body: ErrorBody) -> None:
    admin = server.auth("admin")
    before_runbook = await server.client.post("/v1/events", json={"events": [event(0)]}, headers=admin)
    assert "no runbook is applied" in error_body(before_runbook, 422)["errors"][0]["message"]
    await apply_runbook(server)
    response = await server.client.post(
        "/v1/events", json={"events": [event(0), {**event(1), "workflow": "nope"}]}, headers=admin
    )
    body = error_body(response, 422)
    assert (
        body["errors"][0]["code"] == "unknown_workflow"
        and body["errors"][0]["location"] == "body.events.1.workflow"
    )
    assert stored(server) == 0


async def test_non_json_values_and_oversized_bodies_are_refused(
    server: Server, error_body: ErrorBody
) -> None:
    await apply_runbook(server)
    nan = '{"events": [{"kind": "note", "actor": "a", "workflow": "support-triage", "payload": {"x": NaN}}]}'
    response = await server.client.post(
        "/v1/events", content=nan, headers={"Content-Type": "application/json", **server.auth("agent")}
    )
    assert error_body(response, 422)["errors"][0]["location"] == "body.events.0.payload"
    big = [{**event(0), "payload": {"text": "x" * 2000}}] * 600  # over the 1 MiB body limit
    error_body(await post_events(server, big), 413)
    assert stored(server) == 0


async def test_payloads_are_redacted_by_the_runbook_rules(server: Server) -> None:
    await apply_runbook(server)
    await post_events(server, [{**event(0), "payload": {"reply": "write to jane.doe@example.com"}}])
    page = (await server.client.get("/v1/events", headers=server.auth("viewer"))).json()
    assert "jane.doe@example.com" not in json.dumps(page)


async def test_pages_filter_and_continue_by_cursor_without_overlap(
    server: Server, error_body: ErrorBody
) -> None:
    await apply_runbook(server)
    await post_events(server, [event(i) for i in range(25)])
    viewer = server.auth("viewer")
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor is not None else {})
        page = (await server.client.get("/v1/events", params=params, headers=viewer)).json()
        seen += [e["index"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(24, -1, -1))
    oldest = (await server.client.get("/v1/events?order=oldest&limit=3&after=10", headers=viewer)).json()
    assert [e["index"] for e in oldest["events"]] == [11, 12, 13] and oldest["next_cursor"] == 13
    decisions = (await server.client.get("/v1/events?kind=decision&run_id=run-1", headers=viewer)).json()
    assert [e["index"] for e in decisions["events"]] == [19, 16, 13, 10]
    both = (await server.client.get("/v1/events?kind=decision,model_call&before=4", headers=viewer)).json()
    assert [e["index"] for e in both["events"]] == [3, 1, 0]
    assert (await server.client.get("/v1/events?workflow=other", headers=viewer)).json()["events"] == []
    error_body(await server.client.get("/v1/events?kind=telepathy", headers=viewer), 422)
    error_body(await server.client.get("/v1/events?limit=0", headers=viewer), 422)
    error_body(await server.client.get("/v1/events?since=yesterday", headers=viewer), 422)


async def test_time_filters(server: Server) -> None:
    await apply_runbook(server)
    # The last event arrives late (say, from an SDK spool) with an early time: it still matches.
    times = ["2026-11-20T10:00:00+00:00", "2026-11-21T10:00:00+00:00", "2026-11-22T10:00:00+00:00"]
    times += ["2026-11-22T11:00:00+00:00", "2026-11-21T12:00:00+00:00"]
    await post_events(server, [event(i, time=t) for i, t in enumerate(times)])
    response = await server.client.get(
        "/v1/events", params={"since": "2026-11-21T00:00:00Z", "until": "2026-11-22T10:00:00Z"},
        headers=server.auth("viewer"),
    )  # fmt: skip
    assert [e["index"] for e in response.json()["events"]] == [4, 1]
    empty = await server.client.get(
        "/v1/events", params={"until": "2020-01-01T00:00:00Z"}, headers=server.auth("viewer")
    )
    assert empty.json() == {"events": [], "next_cursor": None, "order": "newest", "limit": 100}


async def test_event_proof_checks_against_the_signed_checkpoint(
    server: Server, error_body: ErrorBody
) -> None:
    await apply_runbook(server)
    await post_events(server, [event(i) for i in range(300)])
    viewer = server.auth("viewer")
    uncovered = (await server.client.get("/v1/events/7", headers=viewer)).json()
    assert uncovered["proof"]["covered"] is False
    error_body(await server.client.get("/v1/ledger/checkpoint", headers=viewer), 404)
    error_body(await server.client.get("/v1/ledger/key", headers=viewer), 404)

    signed = await server.client.post("/v1/ledger/checkpoint", headers=server.auth("responder"))
    assert signed.status_code == 200 and signed.json()["size"] == 300 and signed.json()["created"] is True
    again = await server.client.post("/v1/ledger/checkpoint", headers=server.auth("responder"))
    assert again.json()["created"] is False
    latest = (await server.client.get("/v1/ledger/checkpoint", headers=viewer)).json()
    key = (await server.client.get("/v1/ledger/key", headers=viewer)).json()
    assert latest["note"].startswith(key["name"] + "\n300\n") and latest["key_id"] == key["key_id"]

    detail = (await server.client.get("/v1/events/7", headers=viewer)).json()
    assert json.loads(detail["event"]["canonical"])["index"] == 7
    proof = detail["proof"]
    assert proof["covered"] and proof["included"] and proof["signed"] and proof["tree_size"] == 300
    assert len(proof["hashes"]) == 9  # ceil(log2(300))
    error_body(await server.client.get("/v1/events/300", headers=viewer), 404)
    error_body(await server.client.get("/v1/events/-1", headers=viewer), 422)  # not an index at all


async def test_verify_finds_an_edited_event(server: Server) -> None:
    await apply_runbook(server)
    await post_events(server, [event(i) for i in range(20)])
    await server.client.post("/v1/ledger/checkpoint", headers=server.auth("responder"))
    viewer = server.auth("viewer")
    clean = (await server.client.get("/v1/ledger/verify", headers=viewer)).json()
    assert clean["ok"] is True and clean["leaves"] == 20 and clean["signatures_checked"] is True
    with server.engine.begin() as conn:
        data = conn.execute(sa.select(ledger_events.c.data).where(ledger_events.c.idx == 12)).scalar_one()
        edited = bytes(data).replace(b'"n":12', b'"n":99')
        conn.execute(ledger_events.update().where(ledger_events.c.idx == 12).values(data=edited))
    report = (await server.client.get("/v1/ledger/verify", headers=viewer)).json()
    assert report["ok"] is False and report["first_bad_index"] == 12
    assert (await server.client.get("/v1/events/12", headers=viewer)).json()["proof"]["included"] is False


async def test_evidence_export_downloads_a_bundle_that_verifies(
    server: Server, error_body: ErrorBody
) -> None:
    responder = server.auth("responder")
    error_body(await server.client.post("/v1/evidence", json={}, headers=responder), 409)
    await apply_runbook(server)
    await post_events(server, [event(i) for i in range(12)])
    response = await server.client.post("/v1/evidence", json={"run_id": "run-1"}, headers=responder)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert (
        "attachment" in response.headers["content-disposition"] and response.headers["x-andon-events"] == "2"
    )
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert len(archive.read("events.jsonl").splitlines()) == 2

    viewer = server.auth("viewer")
    raw = await server.client.post(
        "/v1/evidence/verify", content=response.content, headers={"Content-Type": "application/zip", **viewer}
    )
    assert raw.status_code == 200 and raw.json()["ok"] is True and raw.json()["events"] == 2
    form = await server.client.post(
        "/v1/evidence/verify", files={"bundle": ("case-17.zip", response.content)}, headers=viewer
    )
    assert form.json()["ok"] is True and form.json()["path"] == "case-17.zip"
    key = (await server.client.get("/v1/ledger/key", headers=viewer)).json()["vkey"]
    pinned = await server.client.post(
        "/v1/evidence/verify", params={"key": key}, content=response.content, headers=viewer
    )
    assert pinned.json()["ok"] is True
    tampered = bytearray(response.content)
    tampered[60] ^= 1
    bad = await server.client.post("/v1/evidence/verify", content=bytes(tampered), headers=viewer)
    assert bad.status_code == 200 and bad.json()["ok"] is False and bad.json()["problems"]
    error_body(await server.client.post("/v1/evidence/verify", content=b"", headers=viewer), 422)
    error_body(
        await server.client.post("/v1/evidence", json={"since": "2026-01-01T00:00:00"}, headers=responder),
        422,
    )


async def test_scoped_keys_see_and_export_only_their_workflows(server: Server, error_body: ErrorBody) -> None:
    await apply_runbook(server)
    await post_events(server, [event(0)])
    await server.client.post(
        "/v1/events", json={"events": [{"kind": "note", "actor": "ops", "payload": {"text": "global"}}]},
        headers=server.auth("admin"),
    )  # fmt: skip
    scoped = {"Authorization": f"Bearer {server.new_key('viewer', workflows=['quote-estimates'])}"}
    assert (await server.client.get("/v1/events", headers=scoped)).json()["events"] == []
    error_body(await server.client.get("/v1/events?workflow=support-triage", headers=scoped), 403)
    error_body(await server.client.get("/v1/events/0", headers=scoped), 404)
    responder = {"Authorization": f"Bearer {server.new_key('responder', workflows=['support-triage'])}"}
    error_body(await server.client.post("/v1/evidence", json={}, headers=responder), 403)
    error_body(
        await server.client.post("/v1/evidence", json={"workflow": "quote-estimates"}, headers=responder), 403
    )
    ok = await server.client.post("/v1/evidence", json={"workflow": "support-triage"}, headers=responder)
    assert ok.status_code == 200 and ok.headers["x-andon-events"] == "1"


async def test_an_odd_workflow_name_never_breaks_the_download_header(server: Server) -> None:
    """Found by the fuzz run: a non-Latin-1 workflow id in the file name made the export a 500."""
    await apply_runbook(server)
    await post_events(server, [event(0)])
    odd = 'support-triage"\U000a0b1f\r\nX-Injected: 1'
    response = await server.client.post("/v1/evidence", json={"workflow": odd}, headers=server.auth("admin"))
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(
        'attachment; filename="andon-evidence-support-triage_'
    ) and "x-injected" not in {name.lower() for name in response.headers}
    assert disposition.isascii() and disposition.count('"') == 2
