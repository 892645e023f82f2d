"""cafe_rt: the real-time backend of a cafe chain, in one ASGI service.

Settings come from the environment; `create_app()` builds the service (tests pass their own
settings); `python cafe_rt.py serve` runs it under uvicorn; `demo` and `create-company` are the
management commands.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.config import Config
from starlette.datastructures import CommaSeparatedStrings
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.supervisors import Multiprocess

from domain import accounts, demo, idempotency, sync
from domain.auth import TokenSettings
from domain.db import normalize_database_url, utc_now
from domain.late import announce_late
from domain.loops import every
from domain.migrations import SchemaError, migrate, open_database
from domain.outbox import MAX_NOTIFY_TEXT, prune, relay_unpublished
from domain.screen_counts import ScreenCounts
from domain.screens import ScreenWatch
from domain.services import Services
from domain.shapes import CreatedCompany
from domain.sql import Database
from domain.throttle import LoginLimits
from realtime.broker import BrokerSupervisor
from realtime.direct import KeepRawSend
from realtime.front_door import front_door
from realtime.http_guard import GuardedHttpToolsProtocol
from realtime.hub import Hub
from realtime.origins import origin_middleware
from realtime.pg_broker import broker_for
from realtime.socket_leases import REDIS_SCHEMES, SocketLeases
from realtime.stream import OpenStreams
from routes import accounts as account_routes
from routes import (
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
from routes.idempotency import Idempotency
from routes.log_redaction import redact_uvicorn_logs
from routes.metrics import RequestMetrics
from routes.outages import RETRY_AFTER, outage

log = logging.getLogger("cafe_rt")
config = Config()

REDIS_URL: str | None = config("REDIS_URL", default=None)
DATABASE_URL: str = config("DATABASE_URL", default="sqlite:///./cafe_rt.db")
BROADCAST_URL: str = config("BROADCAST_URL", default=REDIS_URL or "memory://")
JWT_SECRET: str | None = config("JWT_SECRET", default=None)
ACCESS_TOKEN_TTL: int = config("ACCESS_TOKEN_TTL", cast=int, default=15 * 60)
REFRESH_TOKEN_TTL: int = config("REFRESH_TOKEN_TTL", cast=int, default=7 * 24 * 3600)
SEND_QUEUE_SIZE: int = config("SEND_QUEUE_SIZE", cast=int, default=1000)
SOCKET_RATE: float = config("SOCKET_RATE", cast=float, default=10.0)
SOCKET_BURST: int = config("SOCKET_BURST", cast=int, default=30)
MAX_SOCKETS_PER_USER: int = config("MAX_SOCKETS_PER_USER", cast=int, default=50)
SSE_PING_INTERVAL: float = config("SSE_PING_INTERVAL", cast=float, default=15.0)
RELAY_INTERVAL: float = config("RELAY_INTERVAL", cast=float, default=5.0)
SWEEP_INTERVAL: float = config("SWEEP_INTERVAL", cast=float, default=2.0)
BROKER_CHECK_INTERVAL: float = config("BROKER_CHECK_INTERVAL", cast=float, default=2.0)
OUTBOX_RETENTION: float = config("OUTBOX_RETENTION", cast=float, default=7 * 24 * 3600)
BONUS_PERCENT: int = config("BONUS_PERCENT", cast=int, default=5)
SYNC_WEBHOOK_URL: str | None = config("SYNC_WEBHOOK_URL", default=None)
SYNC_MAX_ATTEMPTS: int = config("SYNC_MAX_ATTEMPTS", cast=int, default=5)
SYNC_RETRY_BASE: float = config("SYNC_RETRY_BASE", cast=float, default=2.0)
SYNC_TIMEOUT: float = config("SYNC_TIMEOUT", cast=float, default=5.0)
WS_TICKET_TTL: int = config("WS_TICKET_TTL", cast=int, default=45)
SOCKET_TOKEN_EXPIRY: str = config("SOCKET_TOKEN_EXPIRY", default="keep")
CORS_ORIGINS: tuple[str, ...] = tuple(config("CORS_ORIGINS", cast=CommaSeparatedStrings, default=""))
# The host names the service answers to (a foreign Host: 400); its own browser origins are judged by them.
ALLOWED_HOSTS: tuple[str, ...] = tuple(
    config("ALLOWED_HOSTS", cast=CommaSeparatedStrings, default="localhost,127.0.0.1,[::1]")
)
REFRESH_REUSE_GRACE: float = config("REFRESH_REUSE_GRACE", cast=float, default=10.0)
METRICS_TOKEN: str | None = config("METRICS_TOKEN", default=None)
MAX_PORTIONS_PER_ORDER: int = config("MAX_PORTIONS_PER_ORDER", cast=int, default=200)
LOGIN_MAX_FAILURES: int = config("LOGIN_MAX_FAILURES", cast=int, default=10)
LOGIN_LOCKOUT: float = config("LOGIN_LOCKOUT", cast=float, default=900.0)
LOGIN_MAX_FAILURES_PER_ADDRESS: int = config("LOGIN_MAX_FAILURES_PER_ADDRESS", cast=int, default=100)
LOGIN_MAX_DELAY: float = config("LOGIN_MAX_DELAY", cast=float, default=60.0)
# Read by `serve` only: uvicorn's WebSocket options, how long a peer may take no data at all, and how
# long a connection may take to deliver its request.
WS_PING_INTERVAL: float = config("WS_PING_INTERVAL", cast=float, default=30.0)
WS_PING_TIMEOUT: float = config("WS_PING_TIMEOUT", cast=float, default=30.0)
WS_MAX_SIZE: int = config("WS_MAX_SIZE", cast=int, default=64 * 1024)
STALLED_TIMEOUT: float = config("STALLED_TIMEOUT", cast=float, default=60.0)
# Heroku's convention for how many processes a dyno runs.
WEB_CONCURRENCY: int = config("WEB_CONCURRENCY", cast=int, default=1)
REQUEST_TIMEOUT: float = config("REQUEST_TIMEOUT", cast=float, default=10.0)
# Read by `serve` only: how long in-flight requests get after SIGTERM.
SHUTDOWN_TIMEOUT: int = config("SHUTDOWN_TIMEOUT", cast=int, default=10)
IDEMPOTENCY_TTL: int = config("IDEMPOTENCY_TTL", cast=int, default=86400)
PUBLISH_TIMEOUT: float = config("PUBLISH_TIMEOUT", cast=float, default=1.0)
# /healthz answers within this even when the database hangs.
HEALTH_TIMEOUT = 2.0
# Kitchen screens: how long a station may have no screen before kitchen_screen_offline, and how often each
# process shares its socket counts; how often portions past their due time are looked for.
SCREEN_GRACE: float = config("SCREEN_GRACE", cast=float, default=30.0)
SCREEN_INTERVAL: float = config("SCREEN_INTERVAL", cast=float, default=5.0)
LATE_CHECK_INTERVAL: float = config("LATE_CHECK_INTERVAL", cast=float, default=1.0)
# HS256 with a key shorter than its 32-byte output can be brute-forced offline from any one token.
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class Settings:
    database_url: str = DATABASE_URL
    broadcast_url: str = BROADCAST_URL
    jwt_secret: str | None = JWT_SECRET
    access_token_ttl: int = ACCESS_TOKEN_TTL
    refresh_token_ttl: int = REFRESH_TOKEN_TTL
    send_queue_size: int = SEND_QUEUE_SIZE
    socket_rate: float = SOCKET_RATE
    socket_burst: int = SOCKET_BURST
    max_sockets_per_user: int = MAX_SOCKETS_PER_USER
    # Seconds between the `: ping` comments of an idle event stream.
    sse_ping_interval: float = SSE_PING_INTERVAL
    relay_interval: float = RELAY_INTERVAL
    sweep_interval: float = SWEEP_INTERVAL
    broker_check_interval: float = BROKER_CHECK_INTERVAL
    outbox_retention: float = OUTBOX_RETENTION
    bonus_percent: int = BONUS_PERCENT
    sync_webhook_url: str | None = SYNC_WEBHOOK_URL
    sync_max_attempts: int = SYNC_MAX_ATTEMPTS
    sync_retry_base: float = SYNC_RETRY_BASE
    sync_timeout: float = SYNC_TIMEOUT
    ws_ticket_ttl: int = WS_TICKET_TTL
    # "keep": an open socket outlives its access token; "close": closed with 4003 at expiry unless refreshed.
    socket_token_expiry: str = SOCKET_TOKEN_EXPIRY
    cors_origins: tuple[str, ...] = CORS_ORIGINS
    allowed_hosts: tuple[str, ...] = ALLOWED_HOSTS
    refresh_reuse_grace: float = REFRESH_REUSE_GRACE
    # When set, GET /metrics needs it as a Bearer token.
    metrics_token: str | None = METRICS_TOKEN
    max_portions_per_order: int = MAX_PORTIONS_PER_ORDER
    login_max_failures: int = LOGIN_MAX_FAILURES
    login_lockout: float = LOGIN_LOCKOUT
    login_max_failures_per_address: int = LOGIN_MAX_FAILURES_PER_ADDRESS
    login_max_delay: float = LOGIN_MAX_DELAY
    idempotency_ttl: int = IDEMPOTENCY_TTL
    publish_timeout: float = PUBLISH_TIMEOUT
    screen_grace: float = SCREEN_GRACE
    screen_interval: float = SCREEN_INTERVAL
    late_check_interval: float = LATE_CHECK_INTERVAL


class WeakSecret(RuntimeError):
    """JWT_SECRET is too short to sign tokens with."""


def check_secret(secret: str | None) -> None:
    if secret and len(secret.encode()) < MIN_SECRET_BYTES:
        raise WeakSecret(
            f"JWT_SECRET is {len(secret.encode())} bytes; it must have at least {MIN_SECRET_BYTES} "
            "(for example: python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )


@asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[Services]:
    """The database (schema applied) and the broker, connected for as long as the block runs."""
    check_secret(settings.jwt_secret)
    database = await open_database(settings.database_url)
    tokens = TokenSettings(settings.jwt_secret or "", settings.access_token_ttl, settings.refresh_token_ttl)
    services = Services(
        database,
        broker_for(normalize_database_url(settings.broadcast_url)),
        tokens,
        bonus_percent=settings.bonus_percent,
        sync_enabled=bool(settings.sync_webhook_url),
        broker_max_text=MAX_NOTIFY_TEXT if settings.broadcast_url.startswith("postgres") else 1_000_000,
        ws_ticket_ttl=settings.ws_ticket_ttl,
        max_portions_per_order=settings.max_portions_per_order,
        login_limits=LoginLimits(
            settings.login_max_failures,
            settings.login_lockout,
            settings.login_max_failures_per_address,
            settings.login_max_delay,
        ),
        publish_timeout=settings.publish_timeout,
        idempotency_ttl=settings.idempotency_ttl,
        refresh_reuse_grace=settings.refresh_reuse_grace,
    )
    try:
        await services.broadcast.connect()
        yield services
    finally:
        # The supervisor may have replaced the broker connection: close the one in use now.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(services.broadcast.disconnect(), 5)
        await database.disconnect()


async def relay_pass(services: Services, interval: float, retention: float) -> None:
    """Publish what a crash or a broker outage left behind (rows younger than `interval` are in flight),
    and forget events older than `retention` (and Idempotency-Key answers older than IDEMPOTENCY_TTL)."""
    await relay_unpublished(services, utc_now(seconds_ago=interval))
    await prune(services, utc_now(seconds_ago=retention))
    await idempotency.prune(services.database, services.idempotency_ttl)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    if settings.socket_token_expiry not in ("keep", "close"):
        raise ValueError(f"SOCKET_TOKEN_EXPIRY must be keep or close, not {settings.socket_token_expiry!r}")
    # Also when run by the uvicorn command line rather than `serve`: no token reaches a log line.
    redact_uvicorn_logs()
    random_secret = not settings.jwt_secret
    if random_secret:
        settings = replace(settings, jwt_secret=secrets.token_urlsafe(32))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if random_secret:
            log.warning(
                "JWT_SECRET is not set: using a random secret, so tokens die with this process "
                "and no second process can read them"
            )
        async with running_services(settings) as services:
            hub = Hub(services.broadcast, services.database, sweep_interval=settings.sweep_interval)
            await hub.start()
            await relay_unpublished(services, utc_now())
            stopping = asyncio.Event()
            broker = BrokerSupervisor(
                services, hub, normalize_database_url(settings.broadcast_url), settings.broker_check_interval
            )
            screen_counts = ScreenCounts()
            watch = ScreenWatch(services, screen_counts, settings.screen_interval, settings.screen_grace)
            workers = [
                asyncio.create_task(
                    every(
                        settings.relay_interval,
                        stopping,
                        lambda: relay_pass(services, settings.relay_interval, settings.outbox_retention),
                        "relay",
                    )
                ),
                asyncio.create_task(broker.run(stopping)),
                asyncio.create_task(every(settings.screen_interval, stopping, watch.run_pass, "screens")),
                asyncio.create_task(
                    every(settings.late_check_interval, stopping, lambda: announce_late(services), "late portions")
                ),
            ]
            if settings.sync_webhook_url:
                sync_settings = sync.SyncSettings(
                    settings.sync_webhook_url,
                    settings.sync_max_attempts,
                    settings.sync_retry_base,
                    settings.sync_timeout,
                )
                workers.append(asyncio.create_task(sync.sync_forever(services, sync_settings, stopping)))
            # With Redis as the broker, the per-user socket cap is counted there, over every process.
            leases = SocketLeases(settings.broadcast_url) if settings.broadcast_url.startswith(REDIS_SCHEMES) else None
            if leases is not None:
                workers.append(asyncio.create_task(leases.run(stopping)))
            try:
                yield {
                    "services": services,
                    "hub": hub,
                    "settings": settings,
                    "broker": broker,
                    "streams": OpenStreams(),
                    "leases": leases,
                    "screens": screen_counts,
                }
            finally:
                # Let a worker finish what it is doing: a write cut off mid-transaction can leave
                # SQLite locked. Only one stuck past its own timeout is cancelled.
                stopping.set()
                _, stuck = await asyncio.wait(workers, timeout=settings.sync_timeout + 5)
                for worker in stuck:
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
                with contextlib.suppress(Exception):
                    await watch.withdraw()
                await hub.stop()
                if leases is not None:
                    await leases.close()

    routes = [
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        *account_routes.routes,
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
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=exception_handlers,
        # KeepRawSend first: it must see the server's own send, before anything wraps it (realtime/direct.py).
        # Idempotency last (innermost): it must run in the operation's own task, as it holds its transaction.
        middleware=[
            Middleware(KeepRawSend),
            Middleware(RequestMetrics),
            *front_door(settings.allowed_hosts),
            *origin_middleware(settings.allowed_hosts, settings.cors_origins),
            Middleware(Idempotency),
        ],
    )


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
    broker = "ok" if request.state.broker.healthy else "down"
    if broker == "down":
        problems.append("The broker is unreachable: other processes get events late (the relay catches up).")
    body = {"database": database, "broker": broker}
    if not problems:
        return JSONResponse(body)
    headers = {"Retry-After": str(RETRY_AFTER)}
    return JSONResponse({**body, "detail": " ".join(problems)}, status_code=503, headers=headers)


async def _create_company(settings: Settings, name: str, email: str, password: str) -> CreatedCompany:
    async with running_services(settings) as services:
        return await accounts.create_company(services, name, email, password)


async def _migrate(database_url: str) -> str:
    database = Database(normalize_database_url(database_url))
    await database.connect()
    try:
        report = await migrate(database)
    finally:
        await database.disconnect()
    if not report.applied:
        return f"cafe_rt: the schema is up to date (version {report.after})"
    return f"cafe_rt: schema version {report.before} -> {report.after}: applied {', '.join(report.applied)}"


def run_migrations(database_url: str) -> str:
    """`migrate`, and `serve` before it listens: a database this code cannot use stops it with the reason."""
    try:
        return asyncio.run(_migrate(database_url))
    except SchemaError as refused:
        raise SystemExit(f"cafe_rt: {refused}") from None


async def _demo(settings: Settings) -> str:
    async with running_services(settings) as services:
        return await demo.load(services)


def listening_socket(host: str, port: int) -> socket.socket:
    """The served socket, made so that every connection accepted on it is cut when its peer takes no data
    for STALLED_TIMEOUT, and sends without Nagle's delay.

    uvicorn closes a socket it gives up on (ping timeout, closing handshake) by flushing first, and a client
    that has stopped reading never lets the flush end: TCP_USER_TIMEOUT (copied to every accepted socket)
    bounds that. asyncio sets TCP_NODELAY on accepted connections only when the listener's `proto` is
    IPPROTO_TCP, which `socket.create_server()` leaves at 0: a response written in two parts then waits
    for the client's delayed ACK, 40 ms a request.
    """
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)[
        0
    ]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if hasattr(socket, "TCP_USER_TIMEOUT"):
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(STALLED_TIMEOUT * 1000))
        listener.bind(address)
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


class ServedProtocol(GuardedHttpToolsProtocol):
    """httptools with a bounded request head and REQUEST_TIMEOUT for a request (or handshake) to arrive.

    A class of this module's, not one made at run time: `--workers` pickles it by name for each worker."""

    request_timeout = REQUEST_TIMEOUT


def serve(host: str, port: int, log_level: str, workers: int, loop: str) -> None:
    """Run the app under uvicorn until SIGTERM or SIGINT, with the settings the Procfile relies on."""
    if workers > 1 and normalize_database_url(BROADCAST_URL).startswith("memory"):
        raise SystemExit(
            "cafe_rt: --workers/WEB_CONCURRENCY above 1 needs a shared broker (BROADCAST_URL or REDIS_URL: "
            "redis:// or postgres://); memory:// reaches one process only"
        )
    try:
        check_secret(JWT_SECRET)
    except WeakSecret as weak:
        raise SystemExit(f"cafe_rt: {weak}") from None
    config = uvicorn.Config(
        "cafe_rt:app" if workers > 1 else app,
        host=host,
        port=port,
        workers=workers,
        loop=loop,
        http=ServedProtocol,
        ws="websockets-sansio",
        # permessage-deflate costs about 300 KiB a connection; events are small and many.
        ws_per_message_deflate=False,
        ws_max_size=WS_MAX_SIZE,
        ws_ping_interval=WS_PING_INTERVAL,
        ws_ping_timeout=WS_PING_TIMEOUT,
        proxy_headers=True,
        log_level=log_level,
        # SIGTERM: stop accepting, close sockets (1012), give in-flight requests this long, then exit.
        timeout_graceful_shutdown=SHUTDOWN_TIMEOUT,
    )
    # Once here, before listening, rather than only in each worker's lifespan (which finds nothing left to do).
    logging.getLogger("uvicorn.error").info(run_migrations(DATABASE_URL))
    try:
        listener = listening_socket(host, port)
    except OSError as refused:
        raise SystemExit(f"cafe_rt: cannot listen on {host}:{port}: {refused.strerror}") from None
    redact_uvicorn_logs()  # uvicorn configured its loggers just now; the filter stays on them
    # uvicorn does not announce sockets it is handed; say where the service is, as it would.
    logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, port)
    if workers > 1:
        Multiprocess(config, sockets=[listener]).run()
    else:
        uvicorn.Server(config).run(sockets=[listener])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cafe_rt.py", description="cafe_rt management commands")
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("serve", help="run the service under uvicorn with its WebSocket settings")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8000)
    server.add_argument("--log-level", default="info")
    server.add_argument(
        "--workers", type=int, default=WEB_CONCURRENCY, help="processes (default: WEB_CONCURRENCY, else 1)"
    )
    server.add_argument(
        "--loop", choices=("auto", "asyncio", "uvloop"), default="auto", help="event loop (auto: uvloop if installed)"
    )
    commands.add_parser("migrate", help="bring the database's schema to this release (idempotent); see README")
    commands.add_parser("demo", help="load the demo company (idempotent) and print its logins")
    company = commands.add_parser("create-company", help="create a company and its owner; prints JSON ids")
    company.add_argument("name")
    company.add_argument("--owner-email", required=True)
    company.add_argument("--owner-password", required=True)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve(args.host, args.port, args.log_level, max(1, args.workers), args.loop)
        return 0
    settings = Settings()
    if args.command == "migrate":
        print(run_migrations(settings.database_url))
        return 0
    if args.command == "demo":
        try:
            print(asyncio.run(_demo(settings)))
        except WeakSecret as weak:
            raise SystemExit(f"cafe_rt: {weak}") from None
        return 0
    try:
        result = asyncio.run(_create_company(settings, args.name, args.owner_email, args.owner_password))
    except Exception as error:  # a clear one-line reason instead of a traceback
        detail = getattr(error, "detail", str(error))
        print(json.dumps({"error": detail}), file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


app = create_app()

if __name__ == "__main__":
    sys.exit(main())
