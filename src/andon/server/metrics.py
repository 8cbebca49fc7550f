"""Prometheus metrics at ``/metrics``: decisions by outcome, latencies, events appended, approvals waiting.

Each app has its own registry (``app.state.metrics``), so several apps in one process (tests, the demo)
never share counts. Routers record through the :class:`ServerMetrics` they get from the ``MetricsDep``
dependency::

    @router.post("/v1/decisions")
    def decide(..., metrics: MetricsDep) -> ...:
        started = time.perf_counter()
        ...
        metrics.decision(workflow=wf, outcome=decision.outcome, seconds=time.perf_counter() - started)

"Approvals waiting" is a level, not a count of things this process did: with several replicas only the
store knows it, so it is read from a source function at scrape time (``watch_approvals``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("andon.server.metrics")

# Decisions are meant to take a few milliseconds; the buckets resolve that range finely.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

ApprovalsSource = Callable[[], Mapping[str, int]]


class _ApprovalsWaiting(Collector):
    def __init__(self) -> None:
        self.source: ApprovalsSource | None = None

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "andon_approvals_waiting", "Held actions waiting for a person, by workflow", labels=["workflow"]
        )
        if self.source is not None:
            try:
                counts = self.source()
            except Exception:
                # A scrape must not fail because one source did; the gap shows in the graph.
                log.exception("could not count approvals waiting")
                counts = {}
            for workflow, count in sorted(counts.items()):
                family.add_metric([workflow], count)
        yield family


class ServerMetrics:
    """The metrics of one app; the methods are what routers call."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._decisions = Counter(
            "andon_decisions", "Decisions made, by workflow and outcome", ["workflow", "outcome"],
            registry=self.registry,
        )  # fmt: skip
        self._decision_seconds = Histogram(
            "andon_decision_seconds", "Time to decide one proposed action, by outcome", ["outcome"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._events = Counter(
            "andon_events_appended", "Ledger events appended, by kind", ["kind"], registry=self.registry
        )
        self._http_seconds = Histogram(
            "andon_http_request_seconds", "HTTP request latency, by method, route and status",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self._approvals = _ApprovalsWaiting()
        self.registry.register(self._approvals)
        # The labelled series of the decision path, kept at hand: ``labels()`` takes a lock and
        # builds its key on every call, thousands of times a second.
        self._decision_series: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._http_series: dict[tuple[str, str, int], Any] = {}

    def decision(self, *, workflow: str, outcome: str, seconds: float) -> None:
        """Count one decision (``allow``, ``deny``, ``hold``, ``simulate``) and how long it took."""
        series = self._decision_series.get((workflow, outcome))
        if series is None:
            series = self._decision_series[(workflow, outcome)] = (
                self._decisions.labels(workflow=workflow, outcome=outcome),
                self._decision_seconds.labels(outcome=outcome),
            )
        series[0].inc()
        series[1].observe(seconds)

    def events_appended(self, *, kind: str, count: int = 1) -> None:
        """Count ledger events appended through this server."""
        self._events.labels(kind=kind).inc(count)

    def watch_approvals(self, source: ApprovalsSource) -> None:
        """Read approvals waiting, per workflow, from ``source`` at every scrape."""
        self._approvals.source = source

    def http_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        series = self._http_series.get((method, route, status))
        if series is None:  # routes are templates, so the series are few
            series = self._http_series[(method, route, status)] = self._http_seconds.labels(
                method=method, route=route, status=str(status)
            )
        series.observe(seconds)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


async def get_metrics(request: Request) -> ServerMetrics:  # async: no thread hop (see auth)
    metrics: ServerMetrics = request.app.state.metrics
    return metrics


MetricsDep = Annotated[ServerMetrics, Depends(get_metrics)]


class RequestTimer:
    """ASGI middleware timing every HTTP request, labelled by route template (never the raw path)."""

    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.http_request(
                method=scope["method"], route=template, status=status, seconds=time.perf_counter() - started
            )
