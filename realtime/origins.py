"""Browser origins (CORS_ORIGINS): CORS for REST, and the same list for WebSocket handshakes."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket


class WebSocketOrigins:
    """Refuses (HTTP 403) a WebSocket handshake whose `Origin` is not listed; one without `Origin` passes.

    Browsers send no preflight for a WebSocket and CORSMiddleware leaves them alone, so without this a
    page of any site could open a socket with a ticket or token it got hold of. A page the service serves
    itself (the board, /board/) is same-origin: its `Origin` names the host it connects to, which no page
    of another site can send.
    """

    def __init__(self, app: ASGIApp, allow_origins: Sequence[str]) -> None:
        self.app = app
        self.allow_all = "*" in allow_origins
        self.allow_origins = frozenset(allow_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            same_origin = origin is not None and urlsplit(origin).netloc == headers.get("host")
            if origin is not None and not self.allow_all and not same_origin and origin not in self.allow_origins:
                websocket = WebSocket(scope, receive, send)
                refusal = JSONResponse({"detail": "This origin may not open sockets here."}, status_code=403)
                if "websocket.http.response" in scope.get("extensions", {}):
                    await websocket.send_denial_response(refusal)
                else:
                    await websocket.close(code=1008)  # the server answers the handshake with 403
                return
        await self.app(scope, receive, send)


def origin_middleware(allow_origins: Sequence[str]) -> list[Middleware]:
    """Nothing when no origin is listed: no cross-origin access at all, as before CORS_ORIGINS."""
    if not allow_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(allow_origins),
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            # A browser client reads these to retry well (DESIGN.md, "Safe to retry").
            expose_headers=["Idempotent-Replayed", "Retry-After"],
            max_age=600,
        ),
        Middleware(WebSocketOrigins, allow_origins=list(allow_origins)),
    ]
