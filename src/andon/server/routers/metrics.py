"""``/metrics`` in the Prometheus text format; needs ``viewer`` unless ANDON_METRICS_PUBLIC is set."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from andon.server.auth import require
from andon.server.metrics import MetricsDep


def metrics_router(*, public: bool) -> APIRouter:
    router = APIRouter(tags=["metrics"], dependencies=[] if public else [Depends(require("viewer"))])

    @router.get("/metrics", response_class=Response)
    def metrics(metrics: MetricsDep) -> Response:
        """Decisions by outcome, latency histograms, events appended, approvals waiting."""
        return Response(metrics.render(), media_type=metrics.content_type)

    return router
