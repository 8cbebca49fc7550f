"""/metrics speaks the Prometheus text format and shows what routers record."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from prometheus_client.parser import text_string_to_metric_families

from andon.server.app import create_app
from andon.server.metrics import ServerMetrics
from andon.server.settings import Settings

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, RunApp, Server

pytestmark = pytest.mark.anyio


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_need_a_viewer_by_default(server: Server, error_body: ErrorBody) -> None:
    error_body(await server.client.get("/metrics"), 401)
    response = await server.client.get("/metrics", headers=server.auth("viewer"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")


async def test_metrics_can_be_public(settings: Settings, run_app: RunApp) -> None:
    async with run_app(create_app(replace(settings, metrics_public=True))) as srv:
        assert (await srv.client.get("/metrics")).status_code == 200


async def test_recorded_decisions_events_and_approvals_appear(server: Server) -> None:
    metrics: ServerMetrics = server.app.state.metrics
    metrics.decision(workflow="support-triage", outcome="allow", seconds=0.003)
    metrics.decision(workflow="support-triage", outcome="allow", seconds=0.004)
    metrics.decision(workflow="refunds", outcome="hold", seconds=0.2)
    metrics.events_appended(kind="decision", count=3)
    metrics.watch_approvals(lambda: {"refunds": 2, "support-triage": 0})

    text = (await server.client.get("/metrics", headers=server.auth("viewer"))).text
    got = samples(text)
    assert got[("andon_decisions_total", (("outcome", "allow"), ("workflow", "support-triage")))] == 2
    assert got[("andon_decisions_total", (("outcome", "hold"), ("workflow", "refunds")))] == 1
    assert got[("andon_decision_seconds_count", (("outcome", "allow"),))] == 2
    assert got[("andon_decision_seconds_bucket", (("le", "0.005"), ("outcome", "allow")))] == 2
    assert got[("andon_decision_seconds_bucket", (("le", "0.1"), ("outcome", "hold")))] == 0
    assert got[("andon_events_appended_total", (("kind", "decision"),))] == 3
    assert got[("andon_approvals_waiting", (("workflow", "refunds"),))] == 2


async def test_a_failing_approvals_source_does_not_break_the_scrape(server: Server) -> None:
    def broken() -> dict[str, int]:
        raise RuntimeError("store went away")

    server.app.state.metrics.watch_approvals(broken)
    response = await server.client.get("/metrics", headers=server.auth("viewer"))
    assert response.status_code == 200 and "andon_approvals_waiting" in response.text


async def test_request_latency_is_labelled_by_route_template_not_raw_path(server: Server) -> None:
    await server.client.get("/v1/keys/key_0123456789abcdef", headers=server.auth("admin"))
    await server.client.get("/nowhere")
    text = (await server.client.get("/metrics", headers=server.auth("viewer"))).text
    assert "key_0123456789abcdef" not in text and "/nowhere" not in text
    got = samples(text)
    labels = (("method", "GET"), ("route", "/v1/keys/{key_id}"), ("status", "404"))
    assert got[("andon_http_request_seconds_count", labels)] == 1
    unmatched = (("method", "GET"), ("route", "unmatched"), ("status", "404"))
    assert got[("andon_http_request_seconds_count", unmatched)] == 1


async def test_each_app_counts_on_its_own(settings: Settings) -> None:
    one, two = create_app(settings), create_app(settings)
    one.state.metrics.decision(workflow="w", outcome="deny", seconds=0.001)
    assert b'andon_decisions_total{outcome="deny",workflow="w"} 1.0' in one.state.metrics.render()
    assert b"andon_decisions_total{" not in two.state.metrics.render()
