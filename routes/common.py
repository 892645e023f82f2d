"""Request helpers every REST adapter shares: the acting user, the JSON body, the response."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from core.auth import Actor, bearer_value
from core.errors import DomainError, Invalid, Throttled, TooLarge
from domain.revocation import authenticate
from domain.validate import parse_json
from events.services import Services
from front_door.outages import outage_handlers
from front_door.requests import ACTOR_KEY, MAX_BODY_BYTES


def services(request: Request) -> Services:
    # Starlette's request.state is untyped: what the lifespan put there is cafe_rt.AppState.
    found: Services = request.state.services
    return found


def bearer(request: Request) -> str | None:
    """The access token: `Authorization: Bearer`, else the session cookie (whose writes the browser guard
    in front_door/origins.py has checked for CSRF before any handler runs)."""
    return bearer_value(request.headers.get("authorization", ""), request.cookies)


async def actor(request: Request) -> Actor:
    """The user of the request's access token, refused (401) when the token is bad or revoked."""
    known = request.scope.get(ACTOR_KEY)
    if isinstance(known, Actor):
        return known
    return await authenticate(services(request), bearer(request))


async def body(request: Request, *, required: bool = True) -> Any:
    """The JSON body, read only up to MAX_BODY_BYTES: a bigger one is refused before it is in memory. None for
    no body where one is not `required` (a browser's refresh or sign-out, which the session cookie says).

    uvicorn then discards what still comes of it (`serve` hangs up after REQUEST_TIMEOUT); hanging up at
    once would reset the connection with the body unread, and the client would never see the 413."""
    too_large = TooLarge(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large
    raw = bytearray()
    try:
        async for chunk in request.stream():  # chunked bodies declare no length: count as they come
            raw += chunk
            if len(raw) > MAX_BODY_BYTES:
                raise too_large
    except ClientDisconnect:
        # Gone mid-body (or cut by serve's REQUEST_TIMEOUT): nobody reads this answer, but it is no server fault.
        raise Invalid("The client went away before its body arrived.") from None
    if not raw.strip() and not required:
        return None
    if not raw.strip():
        # Never an empty object in its place: an empty POST /api/cafe/orders/ must not become an empty order.
        raise Invalid("A JSON object is required as the request body.")
    try:
        return parse_json(bytes(raw))
    except ValueError as refused:
        raise Invalid(f"The request body is not valid JSON: {refused}.") from None


def client_address(request: Request) -> str | None:
    """The client's address as uvicorn reports it (behind a proxy: set FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else None


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def respond(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code)


def no_content() -> Response:
    return Response(status_code=204)


async def domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "Internal server error."}, status_code=500)


exception_handlers: dict[Any, Any] = {
    **outage_handlers,
    DomainError: domain_error,
    HTTPException: http_error,
    500: server_error,
}
