"""How the service listens: uvicorn with the socket, protocol and WebSocket options the Procfile relies on."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from core.settings import Settings
from core.values import normalize_database_url
from front_door.http_guard import GuardedHttpToolsProtocol
from front_door.log_redaction import redact_uvicorn_logs
from storage.migrations import SchemaError, migrate
from storage.sql import Database

# The ASGI app uvicorn imports, in this process and in every `--workers` process.
APP = "cafe_rt:app"


def listening_socket(host: str, port: int, stalled_timeout: float) -> socket.socket:
    """The served socket, made so that every connection accepted on it is cut when its peer takes no data
    for `stalled_timeout` seconds (STALLED_TIMEOUT), and sends without Nagle's delay.

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
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(stalled_timeout * 1000))
        listener.bind(address)
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    return listener


class ServedProtocol(GuardedHttpToolsProtocol):
    """httptools with a bounded request head and REQUEST_TIMEOUT for a request (or handshake) to arrive.

    A class of this module's, not one made at run time: `--workers` pickles it by name for each worker, which
    reads REQUEST_TIMEOUT from the same environment (checked by `serve`'s command before anything starts)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_timeout = _request_timeout()


@functools.cache
def _request_timeout() -> float:
    return Settings.from_environ().request_timeout


def serve(settings: Settings, host: str, port: int, log_level: str, workers: int, loop: str) -> None:
    """Run the app under uvicorn until SIGTERM or SIGINT; returns when it has stopped."""
    config = uvicorn.Config(
        APP,
        host=host,
        port=port,
        workers=workers,
        loop=loop,
        http=ServedProtocol,
        ws="websockets-sansio",
        # permessage-deflate costs about 300 KiB a connection; events are small and many.
        ws_per_message_deflate=False,
        ws_max_size=settings.ws_max_size,
        ws_ping_interval=settings.ws_ping_interval,
        ws_ping_timeout=settings.ws_ping_timeout,
        proxy_headers=True,
        log_level=log_level,
        # SIGTERM: stop accepting, close sockets (1012), give in-flight requests this long, then exit.
        timeout_graceful_shutdown=settings.shutdown_timeout,
    )
    # Once here, before listening, rather than only in each worker's lifespan (which finds nothing left to do).
    logging.getLogger("uvicorn.error").info(run_migrations(settings.database_url))
    try:
        listener = listening_socket(host, port, settings.stalled_timeout)
    except OSError as refused:
        raise SystemExit(f"cafe_rt: cannot listen on {host}:{port}: {refused.strerror}") from None
    redact_uvicorn_logs()  # uvicorn configured its loggers just now; the filter stays on them
    # uvicorn does not announce sockets it is handed; say where the service is, as it would.
    logging.getLogger("uvicorn.error").info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, port)
    if workers > 1:
        Multiprocess(config, sockets=[listener]).run()
    else:
        uvicorn.Server(config).run(sockets=[listener])


def run_migrations(database_url: str) -> str:
    """`migrate`, and `serve` before it listens: a database this code cannot use stops it with the reason."""
    try:
        return asyncio.run(_migrate(database_url))
    except SchemaError as refused:
        raise SystemExit(f"cafe_rt: {refused}") from None


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
