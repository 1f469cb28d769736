"""The API's Prometheus metrics at ``GET /metrics`` (text format): requests by route template
and status with their latency, decisions by channel and outcome with theirs, and the
database-backed gauges (config/prometheus.py). ``DISPUTEFLOW_METRICS_TOKEN``, when set, is the
bearer token a scraper must send; the figures carry no customer data either way.
"""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import AppError
from config.prometheus import DatabaseGauges, registry
from config.settings import Settings

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """One per app (its own registry)."""

    def __init__(self, settings: Settings) -> None:
        self.registry = registry(DatabaseGauges(settings.database_url))
        self.requests = Counter("disputeflow_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram("disputeflow_http_request_duration_seconds",
                                 "Time to answer an HTTP request", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.decisions = Histogram("disputeflow_decision_duration_seconds",
                                   "Time from a decision's arrival to its answer, whatever the "
                                   "channel", ["channel", "outcome"], buckets=LATENCY_BUCKETS,
                                   registry=self.registry)

    def observe_decision(self, channel: str, outcome: str, seconds: float) -> None:
        self.decisions.labels(channel, outcome).observe(seconds)


class RequestMetrics:
    """Counts each HTTP request under its route's template (``/api/v1/disputes/{dispute_id}``,
    never the id: labels stay few), or ``unmatched``."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "GET")
            method = method if method in METHODS else "OTHER"  # labels stay few, whatever sent
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
def prometheus_metrics(request: Request) -> Response:
    """The Prometheus scrape target of this API process."""
    settings: Settings = request.app.state.settings
    expected = settings.disputeflow_metrics_token
    if expected:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise AppError("unauthenticated", "Send the metrics token as 'Authorization: "
                           "Bearer <DISPUTEFLOW_METRICS_TOKEN>'.")
    metrics: ApiMetrics = request.app.state.prometheus
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
