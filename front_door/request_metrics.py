"""Every REST request counted and timed (served at GET /metrics by routes/metrics.py)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.metrics import HTTP_LATENCY, HTTP_REQUESTS

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
