"""A dependency that is down is a 503 with Retry-After, not a 500, and the connection stays open.

Starlette's ServerErrorMiddleware answers 500 and re-raises, and uvicorn then closes the keep-alive
connection; these handlers run in the ExceptionMiddleware, which does not. An exception that is not an
outage is raised again and stays a 500 (a bug).
"""

from __future__ import annotations

import sqlite3

import asyncpg
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketState

RETRY_AFTER = 2
DATABASE_DOWN = "The database is unreachable; try again."
DATABASE_STOPPING = "The database is shutting down or starting; try again."
DISK_FULL = "The database's disk is full; try again later."
POOL_TIMEOUT = "No database connection came free in time; try again."
DATABASE_BUSY = "The database is busy; try again."
# The exception classes an outage shows up as (the handlers look at each more closely).
OUTAGE_TYPES: tuple[type[Exception], ...] = (
    OSError,  # includes ConnectionError and TimeoutError (the pool's)
    sqlite3.OperationalError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def outage(error: BaseException) -> str | None:
    """Which dependency `error` says is down (the detail to answer), or None when it is not an outage."""
    if isinstance(error, TimeoutError):
        return POOL_TIMEOUT
    if isinstance(error, sqlite3.OperationalError):
        text = str(error).lower()
        if "full" in text:
            return DISK_FULL
        if "locked" in text or "busy" in text:
            return DATABASE_BUSY
        if "unable to open" in text or "disk i/o" in text or "readonly" in text:
            return DATABASE_DOWN
        return None
    if isinstance(error, asyncpg.DiskFullError):
        return DISK_FULL
    if isinstance(error, (asyncpg.CannotConnectNowError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError)):
        return DATABASE_STOPPING
    if isinstance(error, asyncpg.TooManyConnectionsError):
        return POOL_TIMEOUT
    if isinstance(error, (asyncpg.PostgresConnectionError, asyncpg.ConnectionDoesNotExistError, OSError)):
        return DATABASE_DOWN
    if isinstance(error, asyncpg.InterfaceError) and "closed" in str(error):
        return DATABASE_DOWN
    return None


def unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": str(RETRY_AFTER)})


async def outage_error(connection: HTTPConnection, exc: Exception) -> JSONResponse | None:
    detail = outage(exc)
    if detail is None:
        raise exc
    if isinstance(connection, WebSocket):
        # A handshake is refused with HTTP 503 before accept; an open socket is closed as "try again later".
        if connection.client_state == WebSocketState.CONNECTING:
            await connection.send_denial_response(unavailable(detail))
        elif connection.client_state == WebSocketState.CONNECTED:
            await connection.close(code=1013)
        return None
    return unavailable(detail)


outage_handlers = dict.fromkeys(OUTAGE_TYPES, outage_error)
