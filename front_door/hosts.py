"""The front door: only the service's own host names (ALLOWED_HOSTS), redirects that never name another
host, and the headers that keep a browser from sniffing, framing or running injected script."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The board loads its script, style and sockets from the service itself and runs no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}


class BrowserHeaders:
    """Adds SECURITY_HEADERS to every answer, and makes a redirect to this same host a relative one.

    Starlette builds the trailing-slash redirect from the request's `Host`; a relative `Location` sends the
    client where it already is, whatever that header said."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = Headers(scope=scope).get("host")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                location = headers.get("location")
                if location and 300 <= message["status"] < 400:
                    target = urlsplit(location)
                    if target.netloc and target.netloc == host:
                        headers["location"] = target.path + (f"?{target.query}" if target.query else "")
            await send(message)

        await self.app(scope, receive, sending)


def front_door(allowed_hosts: Sequence[str]) -> list[Middleware]:
    """A foreign `Host` is answered 400 before anything else runs (`*` in ALLOWED_HOSTS: any host)."""
    return [
        Middleware(BrowserHeaders),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts), www_redirect=False),
    ]
