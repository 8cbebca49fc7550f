"""``/v1/runbook`` and ``/v1/workflows`` over the real app, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from andon.store.tables import runbook_revisions

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, Server

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRIAGE = (EXAMPLES / "support-triage.yaml").read_text(encoding="utf-8")
YAML = {"Content-Type": "application/yaml"}


def revisions_stored(server: Server) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(runbook_revisions)).scalar_one())


async def test_lint_yaml_text_reports_findings_with_positions(server: Server) -> None:
    # Drop the workflow's pause switch: AND101 at the workflow, positioned in the caller's file name.
    text = TRIAGE.replace("pause_workflow, ", "").replace(", pause_workflow", "")
    assert text != TRIAGE
    response = await server.client.post(
        "/v1/runbook/lint?name=triage.yaml", content=text, headers={**YAML, **server.auth("viewer")}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ready"] is False and body["errors"] >= 1
    assert body["workflows"] == ["support-triage"]
    found = [f for f in body["findings"] if f["code"] == "AND101"]
    assert found, body["findings"]
    assert found[0]["file"] == "triage.yaml" and found[0]["line"] > 1 and found[0]["column"] >= 1


async def test_lint_clean_runbook_is_ready(server: Server) -> None:
    response = await server.client.post(
        "/v1/runbook/lint", content=TRIAGE, headers={**YAML, **server.auth("viewer")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["ready"] is True


async def test_lint_broken_yaml_is_422_with_each_problem_positioned(
    server: Server, error_body: ErrorBody
) -> None:
    text = "andon: 1\norganisation:\n  name: Acme\n\tcontacts: {}\n"
    response = await server.client.post(
        "/v1/runbook/lint?name=acme.yaml", content=text, headers={**YAML, **server.auth("viewer")}
    )
    body = error_body(response, 422)
    assert body["errors"][0]["code"] == "AND002"
    assert body["errors"][0]["location"] == "acme.yaml:4:1"
    assert "tab" in body["errors"][0]["message"]
    assert "/tmp" not in response.text and "andon-runbook-" not in response.text


async def test_lint_split_runbook_names_each_file(server: Server, error_body: ErrorBody) -> None:
    org, _, rest = TRIAGE.partition("\nworkflows:")
    files = {
        "org.yaml": org,
        "triage.yaml": "workflows:" + rest.replace("autonomy: ", "autonomy: sometimes #"),
    }
    response = await server.client.post(
        "/v1/runbook/lint", json={"files": files}, headers=server.auth("viewer")
    )
    body = error_body(response, 422)
    locations = [e["location"] for e in body["errors"]]
    assert any(loc.startswith("triage.yaml:") for loc in locations), locations
    ok = await server.client.post(
        "/v1/runbook/lint", json={"files": {"org.yaml": org, "triage.yaml": "workflows:" + rest}},
        headers=server.auth("viewer"),
    )  # fmt: skip
    assert ok.status_code == 200 and ok.json()["workflows"] == ["support-triage"]


@pytest.mark.parametrize(
    ("payload", "location"),
    [
        ({"files": {"../evil.yaml": "andon: 1"}}, "body.files.../evil.yaml"),
        ({"files": {"notes.txt": "andon: 1"}}, "body.files.notes.txt"),
        ({"files": {}}, "body.files"),
        ({"files": {"a.yaml": 5}}, "body.files.a.yaml"),
        ({"file": {"a.yaml": "andon: 1"}}, "body.files"),
    ],
)
async def test_lint_refuses_unusable_bodies(
    server: Server, error_body: ErrorBody, payload: dict[str, object], location: str
) -> None:
    response = await server.client.post("/v1/runbook/lint", json=payload, headers=server.auth("viewer"))
    body = error_body(response, 422)
    assert location in [e["location"] for e in body["errors"]], body


async def test_lint_refuses_non_utf8_and_empty_text(server: Server, error_body: ErrorBody) -> None:
    headers = {**YAML, **server.auth("viewer")}
    error_body(await server.client.post("/v1/runbook/lint", content=b"andon: \xff\n", headers=headers), 422)
    error_body(await server.client.post("/v1/runbook/lint", content=b"  \n", headers=headers), 422)


async def test_apply_adds_a_revision_once_and_renders_it(server: Server, error_body: ErrorBody) -> None:
    admin = {**YAML, **server.auth("admin")}
    first = await server.client.post("/v1/runbook/revisions", content=TRIAGE, headers=admin)
    assert first.status_code == 201, first.text
    applied = first.json()
    assert applied["revision"] == 1 and applied["created"] is True
    assert applied["workflows"] == ["support-triage"] and applied["actor"] == "tests"  # the key's owner
    again = await server.client.post("/v1/runbook/revisions", content=TRIAGE, headers=admin)
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["revision"] == 1
    assert revisions_stored(server) == 1

    viewer = server.auth("viewer")
    listed = (await server.client.get("/v1/runbook/revisions", headers=viewer)).json()["revisions"]
    assert [r["revision"] for r in listed] == [1]
    detail = (await server.client.get("/v1/runbook/revisions/1", headers=viewer)).json()
    assert detail["source"] == TRIAGE and detail["document"]["workflows"][0]["id"] == "support-triage"
    markdown = await server.client.get("/v1/runbook/revisions/1?format=markdown", headers=viewer)
    assert markdown.status_code == 200 and markdown.headers["content-type"].startswith("text/markdown")
    assert "support-triage" in markdown.text
    html = await server.client.get("/v1/runbook/revisions/1?format=html", headers=viewer)
    assert html.status_code == 200 and html.text.lstrip().lower().startswith("<!doctype html")
    error_body(await server.client.get("/v1/runbook/revisions/2", headers=viewer), 404)
    error_body(await server.client.get("/v1/runbook/revisions/1?format=pdf", headers=viewer), 422)


async def test_apply_refuses_lint_errors_and_stores_nothing(server: Server, error_body: ErrorBody) -> None:
    text = TRIAGE.replace("pause_workflow, ", "").replace(", pause_workflow", "")
    response = await server.client.post(
        "/v1/runbook/revisions", content=text, headers={**YAML, **server.auth("admin")}
    )
    body = error_body(response, 422)
    assert "AND101" in [e["code"] for e in body["errors"]]
    assert all(e["location"].startswith("runbook.yaml:") for e in body["errors"])
    assert revisions_stored(server) == 0


async def test_apply_refuses_an_unloadable_runbook(server: Server, error_body: ErrorBody) -> None:
    response = await server.client.post(
        "/v1/runbook/revisions", content="andon: 2\n", headers={**YAML, **server.auth("admin")}
    )
    error_body(response, 422)
    assert revisions_stored(server) == 0


async def test_workflows_come_from_the_newest_revision_within_scope(
    server: Server, error_body: ErrorBody
) -> None:
    viewer = server.auth("viewer")
    error_body(await server.client.get("/v1/workflows", headers=viewer), 404)
    await server.client.post(
        "/v1/runbook/revisions", content=TRIAGE, headers={**YAML, **server.auth("admin")}
    )
    listed = (await server.client.get("/v1/workflows", headers=viewer)).json()
    assert listed["revision"] == 1 and [w["id"] for w in listed["workflows"]] == ["support-triage"]
    one = (await server.client.get("/v1/workflows/support-triage", headers=server.auth("agent"))).json()
    assert one["workflow"]["autonomy"] and one["workflow"]["tools"]
    error_body(await server.client.get("/v1/workflows/nope", headers=viewer), 404)
    other = {"Authorization": f"Bearer {server.new_key('agent', workflows=['quote-estimates'])}"}
    assert (await server.client.get("/v1/workflows", headers=other)).json()["workflows"] == []
    error_body(await server.client.get("/v1/workflows/support-triage", headers=other), 403)
