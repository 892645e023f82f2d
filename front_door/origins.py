"""Browser origins: CORS for CORS_ORIGINS, and the checks a browser's ambient credentials need.

A browser attaches the session cookie to every request a page makes, whichever site the page is on, and
opens a WebSocket to any host without a preflight. So a page's `Origin` decides: the service's own origins
(judged by ALLOWED_HOSTS, never by the request's `Host`, which a DNS-rebinding page controls) and those in
CORS_ORIGINS may; any other is refused with 403. Clients that send no `Origin` (apps, curl, wscat) are not
browsers and pass; a cookie-authenticated write must show its origin and echo the CSRF cookie in
`X-CSRF-Token` (double submit), which no page of another site can read.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from core.auth import CSRF_COOKIE, credential

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Public writes that start, renew or end a session: no CSRF token yet (or any more), but the origin holds.
SESSION_PATHS = frozenset(
    {
        "/api/users/login/",
        "/api/auth/login/",
        "/api/users/token/refresh/",
        "/api/auth/refresh",
        "/api/users/logout/",
        "/api/auth/logout",
    }
)


def host_matches(host: str, patterns: Sequence[str]) -> bool:
    """Starlette's TrustedHostMiddleware rule: an exact name, or `*.example.com` for its subdomains."""
    host = host.lower()
    return any(host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])) for pattern in patterns)


class OriginPolicy:
    """Which browser origins may use the service with the user's credentials."""

    def __init__(self, allowed_hosts: Sequence[str], cors_origins: Sequence[str]) -> None:
        self.any_host = "*" in allowed_hosts
        self.hosts = [host.lower() for host in allowed_hosts if host != "*"]
        self.any_origin = "*" in cors_origins
        self.listed = frozenset(origin.rstrip("/") for origin in cors_origins if origin != "*")

    def own_or_listed(self, origin: str, host_header: str | None) -> bool:
        """The service's own origin (by ALLOWED_HOSTS; with ALLOWED_HOSTS=* only the Host header can say),
        or one CORS_ORIGINS names. Ports are not compared: cookies are shared by every port of a host anyway."""
        if origin.rstrip("/") in self.listed:
            return True
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False  # "null" (a sandboxed frame, a file) and anything else that names no site
        if self.any_host:
            return parts.netloc == host_header
        hostname = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return host_matches(hostname, self.hosts)


def request_origin(headers: Headers) -> str | None:
    """`Origin`, else the origin of `Referer` (some browsers send only that on same-origin requests)."""
    origin = headers.get("origin")
    if origin:
        return origin
    referer = urlsplit(headers.get("referer", ""))
    return f"{referer.scheme}://{referer.netloc}" if referer.scheme and referer.netloc else None


class BrowserGuard:
    """Refuses (403) what a page of another site could make a browser do with the user's credentials."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            refusal = self._handshake_refusal(HTTPConnection(scope))
            if refusal is not None:
                websocket = WebSocket(scope, receive, send)
                response = JSONResponse({"detail": refusal}, status_code=403)
                if "websocket.http.response" in scope.get("extensions", {}):
                    await websocket.send_denial_response(response)
                else:
                    await websocket.close(code=1008)  # the server answers the handshake with 403
                return
        elif scope["type"] == "http":
            refusal = self._request_refusal(HTTPConnection(scope), scope["method"])
            if refusal is not None:
                await JSONResponse({"detail": refusal}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _handshake_refusal(self, connection: HTTPConnection) -> str | None:
        origin = connection.headers.get("origin")
        if origin is None or self.policy.own_or_listed(origin, connection.headers.get("host")):
            return None
        query = connection.query_params
        if self.policy.any_origin and (query.get("ticket") or query.get("token")):
            return None  # CORS_ORIGINS=*: any page may connect with a credential it holds, never by the cookie
        return "This origin may not open sockets here."

    def _request_refusal(self, connection: HTTPConnection, method: str) -> str | None:
        headers = connection.headers
        safe = method in SAFE_METHODS
        # A cross-site GET that is no fetch (a link followed to /board/) brings a Referer but no Origin: not refused.
        origin = headers.get("origin") if safe else request_origin(headers)
        foreign = origin is not None and not self.policy.own_or_listed(origin, headers.get("host"))
        found = credential(headers.get("authorization", ""), connection.cookies)
        session_path = not safe and connection.url.path in SESSION_PATHS
        if found is None or not found.from_cookie:
            if foreign and session_path:
                return "This origin may not sign in here."  # nor refresh a session by its refresh cookie
            return None
        if foreign:
            return "This origin may not use the session cookie here."
        if safe or session_path:
            return None
        if origin is None:
            return "A write authenticated by cookie must show its Origin (or Referer)."
        expected, given = connection.cookies.get(CSRF_COOKIE, ""), headers.get("x-csrf-token", "")
        if not expected or not hmac.compare_digest(expected.encode(), given.encode()):
            return "The X-CSRF-Token header must equal the csrf_token cookie (GET /api/auth/csrf)."
        return None


def origin_middleware(allowed_hosts: Sequence[str], cors_origins: Sequence[str]) -> list[Middleware]:
    """CORS (with credentials, for listed origins only) when CORS_ORIGINS is set; the browser guard always."""
    policy = OriginPolicy(allowed_hosts, cors_origins)
    middleware = []
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                # `*` answers every origin, so never with credentials: any site could read a user's answers.
                allow_origins=["*"] if policy.any_origin else sorted(policy.listed),
                allow_credentials=not policy.any_origin,
                allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "Idempotency-Key"],
                # A browser client reads these to retry well (DESIGN.md, "Safe to retry").
                expose_headers=["Idempotent-Replayed", "Retry-After"],
                max_age=600,
            )
        )
    middleware.append(Middleware(BrowserGuard, policy=policy))
    return middleware
