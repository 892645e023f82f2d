"""cafe_rt: the real-time backend of a cafe chain, in one ASGI service. This file is its table of contents.

- Settings: core/settings.py, read from the environment (`Settings.from_environ()`); tests pass their own.
- `create_app()` below: the routes, the middleware and the lifespan that runs the background passes.
- `python cafe_rt.py serve | migrate | demo | create-company`: front_door/cli.py (serving: front_door/serving.py).
- The layers, from the bottom: core, storage, events, domain, then realtime, front_door and describe, then
  routes (README *Layout*; the import contract in pyproject.toml holds them apart).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from core.loops import every
from core.settings import Settings, WeakSecret
from core.values import utc_now
from domain import sync
from domain.late import announce_late
from domain.screen_counts import ScreenCounts
from domain.screens import ScreenWatch
from events.outbox import prune, relay_unpublished
from events.services import Services, running_services
from front_door.hosts import front_door
from front_door.idempotency import Idempotency
from front_door.log_redaction import redact_uvicorn_logs
from front_door.origins import origin_middleware
from front_door.outages import RETRY_AFTER, outage
from front_door.request_metrics import RequestMetrics
from realtime.broker_watch import BrokerWatch
from realtime.direct import KeepRawSend
from realtime.hub import Hub
from realtime.socket_leases import REDIS_SCHEMES, SocketLeases
from realtime.stream import OpenStreams
from routes import (
    accounts,
    bonuses,
    cafe_feeds,
    catalog,
    documents,
    entity_sockets,
    floor,
    kitchen,
    messages,
    metrics,
    orders,
    rooms_socket,
    screens,
)
from routes.common import exception_handlers
from storage import idempotency

__all__ = ["Settings", "WeakSecret", "create_app", "running_services", "app"]

log = logging.getLogger("cafe_rt")


class AppState(TypedDict):
    """What the lifespan yields: each request and socket finds it in `request.state` (`websocket.state`)."""

    services: Services
    hub: Hub
    settings: Settings
    broker_watch: BrokerWatch
    streams: OpenStreams
    leases: SocketLeases | None
    screens: ScreenCounts


# /healthz answers within this even when the database hangs.
HEALTH_TIMEOUT = 2.0


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_environ()
    settings.check()
    # Also when run by the uvicorn command line rather than `serve`: no token reaches a log line.
    redact_uvicorn_logs()
    random_secret = not settings.jwt_secret
    if random_secret:
        settings = replace(settings, jwt_secret=secrets.token_urlsafe(32))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        if random_secret:
            log.warning(
                "JWT_SECRET is not set: using a random secret, so tokens die with this process "
                "and no second process can read them"
            )
        async with running_services(settings) as services:
            async with running_passes(services) as state:
                yield state

    routes = [
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        *accounts.routes,
        *floor.routes,
        *catalog.routes,
        *orders.routes,
        *kitchen.routes,
        *screens.routes,
        *messages.routes,
        *cafe_feeds.routes,
        *entity_sockets.routes,
        *rooms_socket.routes,
        *bonuses.routes,
        *documents.routes,
        *metrics.routes,
        Mount("/board", StaticFiles(directory=Path(__file__).parent / "board", html=True), name="board"),
    ]
    return App(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=exception_handlers,
        # Idempotency last (innermost): it must run in the operation's own task, as it holds its transaction.
        middleware=[
            Middleware(RequestMetrics),
            *front_door(settings.allowed_hosts),
            *origin_middleware(settings.allowed_hosts, settings.cors_origins),
            Middleware(Idempotency),
        ],
    )


class App(Starlette):
    """Starlette with KeepRawSend around everything, its own error middleware too (which wraps an HTTP
    response's send): the direct writes of sockets and event streams need the server's own (realtime/direct.py)."""

    def build_middleware_stack(self) -> ASGIApp:
        return KeepRawSend(super().build_middleware_stack())


@asynccontextmanager
async def running_passes(services: Services) -> AsyncIterator[AppState]:
    """The hub and every background pass of a process, for as long as the block runs; yields what requests
    find in `request.state`."""
    settings = services.settings
    hub = Hub(services.broker, services.database, sweep_interval=settings.sweep_interval)
    await hub.start()
    await relay_unpublished(services, utc_now())
    stopping = asyncio.Event()
    broker_watch = BrokerWatch(services.broker, hub)
    screen_counts = ScreenCounts()
    screen_watch = ScreenWatch(services, screen_counts, settings.screen_interval, settings.screen_grace)
    passes = [
        every(settings.relay_interval, stopping, lambda: relay_pass(services), "relay"),
        # A probe just after connecting would only repeat what the connect proved.
        every(settings.broker_check_interval, stopping, broker_watch.check, "broker check", first_after=True),
        every(settings.screen_interval, stopping, screen_watch.run_pass, "screens"),
        every(settings.late_check_interval, stopping, lambda: announce_late(services), "late portions"),
    ]
    if settings.sync_webhook_url:
        passes.append(every(0.5, stopping, lambda: sync.sync_pass(services, stopping), "POS sync"))
    # With Redis as the broker, the per-user socket cap is counted there, over every process.
    leases = SocketLeases(settings.broadcast_url) if settings.broadcast_url.startswith(REDIS_SCHEMES) else None
    if leases is not None:
        passes.append(leases.run(stopping))
    workers = [asyncio.create_task(work) for work in passes]
    try:
        yield {
            "services": services,
            "hub": hub,
            "settings": settings,
            "broker_watch": broker_watch,
            "streams": OpenStreams(),
            "leases": leases,
            "screens": screen_counts,
        }
    finally:
        # Let a worker finish what it is doing: a write cut off mid-transaction can leave SQLite locked.
        # Only one stuck past its own timeout is cancelled.
        stopping.set()
        _, stuck = await asyncio.wait(workers, timeout=settings.sync_timeout + 5)
        for worker in stuck:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        with contextlib.suppress(Exception):
            await screen_watch.withdraw()
        await hub.stop()
        if leases is not None:
            await leases.close()


async def relay_pass(services: Services) -> None:
    """Publish what a crash or a broker outage left behind (rows younger than RELAY_INTERVAL are in flight),
    and forget events older than OUTBOX_RETENTION and Idempotency-Key answers older than IDEMPOTENCY_TTL."""
    settings = services.settings
    await relay_unpublished(services, utc_now(seconds_ago=settings.relay_interval))
    await prune(services, utc_now(seconds_ago=settings.outbox_retention))
    await idempotency.prune(services.database, settings.idempotency_ttl)


async def healthz(request: Request) -> JSONResponse:
    """200 when the database answers and the broker carried the last probe; 503 with `detail` naming what is
    down otherwise."""
    problems: list[str] = []
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT):
            await request.state.services.database.fetch_one("SELECT 1 AS ok")
    except Exception as error:
        problems.append(outage(error) or f"The database answered an error ({type(error).__name__}).")
    database = "down" if problems else "ok"
    broker = "ok" if request.state.broker_watch.healthy else "down"
    if broker == "down":
        problems.append("The broker is unreachable: other processes get events late (the relay catches up).")
    body = {"database": database, "broker": broker}
    if not problems:
        return JSONResponse(body)
    headers = {"Retry-After": str(RETRY_AFTER)}
    return JSONResponse({**body, "detail": " ".join(problems)}, status_code=503, headers=headers)


if __name__ == "__main__":
    from front_door.cli import main

    sys.exit(main())
else:
    # What `uvicorn cafe_rt:app` (and `serve`, which hands uvicorn that name) runs.
    app = create_app()
