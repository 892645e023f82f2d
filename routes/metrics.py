"""GET /metrics in the Prometheus text format, and the REST request counts and latencies behind it."""

from __future__ import annotations

import hmac
import os
import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.auth import bearer_value
from domain.errors import NotAuthenticated
from domain.metrics import HTTP_LATENCY, HTTP_REQUESTS

EVENT_STREAM = (b"content-type", b"text/event-stream")


class RequestMetrics:
    """Counts and times every REST request by its route's path template (never the raw path: ids would
    make a series per order)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        streamed = False

        async def sending(message: Message) -> None:
            nonlocal status, streamed
            if message["type"] == "http.response.start":
                status = message["status"]
                streamed = EVENT_STREAM in message.get("headers", ())
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(route, scope["method"], str(status)).inc()
            # An event stream lasts as long as its client stays: counted, but its length is no latency.
            if not streamed:
                HTTP_LATENCY.labels(route, scope["method"]).observe(time.perf_counter() - started)


async def metrics(request: Request) -> Response:
    """Open unless METRICS_TOKEN is set: the totals span every company, fine on a private network only."""
    expected = request.state.settings.metrics_token
    if expected:
        given = bearer_value(request.headers.get("authorization", "")) or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise NotAuthenticated("GET /metrics needs METRICS_TOKEN as a Bearer token.")
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"], name="metrics")]
