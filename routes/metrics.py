"""GET /metrics in the Prometheus text format, and the REST request counts and latencies behind it."""

from __future__ import annotations

import hmac
import os

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from core.auth import bearer_value
from core.errors import NotAuthenticated


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
        # prometheus_client leaves its constructor untyped.
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics, methods=["GET"], name="metrics")]
