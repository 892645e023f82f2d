"""The cookies of a browser session: HttpOnly access and refresh tokens, and a readable CSRF token."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from core.auth import ACCESS_COOKIES, CSRF_COOKIE, REFRESH_COOKIES, TokenSettings

# The refresh token goes only where it is spent: refresh and logout.
REFRESH_PATH = "/api/auth"


def secure(request: Request) -> bool:
    """HTTPS, directly or as a trusted proxy says (uvicorn's proxy headers set the scheme): a browser drops
    a Secure cookie that came over plain HTTP, as on localhost or a cafe's own LAN box."""
    return request.url.scheme == "https"


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(request: Request) -> str:
    """The session's CSRF token: the cookie's when it has one (a page caches it), else a new one."""
    return request.cookies.get(CSRF_COOKIE) or new_csrf()


def set_session(response: Response, request: Request, pair: dict[str, str], settings: TokenSettings, csrf: str) -> None:
    """The new pair as HttpOnly SameSite=Lax cookies, and the CSRF token (readable by the page) beside them."""
    https = secure(request)
    response.set_cookie(
        ACCESS_COOKIES[0],
        pair["access"],
        max_age=settings.access_ttl,
        httponly=True,
        samesite="lax",
        secure=https,
    )
    response.set_cookie(
        REFRESH_COOKIES[0],
        pair["refresh"],
        max_age=settings.refresh_ttl,
        path=REFRESH_PATH,
        httponly=True,
        samesite="lax",
        secure=https,
    )
    set_csrf(response, request, csrf, settings.refresh_ttl)


def set_csrf(response: Response, request: Request, csrf: str, max_age: int) -> None:
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="lax", secure=secure(request))


def clear_session(response: Response, request: Request) -> None:
    https = secure(request)
    for name in (*ACCESS_COOKIES, CSRF_COOKIE):
        response.delete_cookie(name, httponly=name != CSRF_COOKIE, samesite="lax", secure=https)
    for name in REFRESH_COOKIES:
        response.delete_cookie(name, path=REFRESH_PATH, httponly=True, samesite="lax", secure=https)
