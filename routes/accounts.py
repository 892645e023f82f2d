"""Login, tokens, the current user, branches and staff."""

from __future__ import annotations

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.auth import CSRF_COOKIE, credential, refresh_cookie
from domain import accounts, staff, tickets
from routes import paths  # noqa: F401  (registers {name:id})
from routes.common import actor, bearer, body, client_address, no_content, respond, services
from routes.session_cookies import clear_session, csrf_token, new_csrf, set_csrf, set_session


async def login(request: Request) -> JSONResponse:
    """The tokens, as before, and the same as a browser session's cookies (with `csrfToken`)."""
    pair = await accounts.login(services(request), await body(request), client_address(request))
    csrf = new_csrf()  # a new session gets a new token: none planted before the login survives it
    response = respond({**pair, "csrfToken": csrf})
    set_session(response, request, pair, services(request).tokens, csrf)
    return response


async def refresh_token(request: Request) -> JSONResponse:
    token = accounts.presented_refresh(await body(request), None)
    return respond(await accounts.refresh(services(request), token))


async def session_refresh(request: Request) -> JSONResponse:
    """The browser's refresh: the refresh cookie (or a `{refresh}` body) rotates both cookies."""
    token = accounts.presented_refresh(
        await body(request, required=False), refresh_cookie(request.cookies), by_cookie=True
    )
    pair = await accounts.refresh(services(request), token)
    csrf = csrf_token(request)
    response = respond({"ok": True, "csrfToken": csrf})
    set_session(response, request, pair, services(request).tokens, csrf)
    return response


async def csrf(request: Request) -> JSONResponse:
    token = csrf_token(request)
    response = respond({"csrfToken": token})
    if request.cookies.get(CSRF_COOKIE) != token:
        set_csrf(response, request, token, services(request).tokens.refresh_ttl)
    return response


async def session(request: Request) -> JSONResponse:
    return respond({"user": await accounts.me(services(request), await actor(request))})


async def session_logout(request: Request) -> JSONResponse:
    """Sign out everywhere by the refresh cookie (or a `{refresh}` body); the cookies are cleared."""
    token = accounts.presented_refresh(
        await body(request, required=False), refresh_cookie(request.cookies), by_cookie=True
    )
    await accounts.logout(services(request), token)
    response = respond({"ok": True})
    clear_session(response, request)
    return response


async def ws_ticket(request: Request) -> JSONResponse:
    await actor(request)  # the same checks as any authenticated request, revocation included
    return respond(await tickets.issue_ticket(services(request), bearer(request)))


async def logout(request: Request) -> Response:
    await accounts.logout(services(request), accounts.presented_refresh(await body(request), None))
    response = no_content()
    clear_session(response, request)
    return response


async def change_password(request: Request) -> JSONResponse:
    """New tokens (every old one is revoked); a browser session gets them as its cookies, so it stays signed in."""
    who, data = await actor(request), await body(request)
    pair = await staff.change_password(services(request), who, data, client_address(request))
    response = respond(pair)
    found = credential(request.headers.get("authorization", ""), request.cookies)
    if found is not None and found.from_cookie:
        set_session(response, request, pair, services(request).tokens, csrf_token(request))
    return response


async def update_user(request: Request) -> JSONResponse:
    user_id = request.path_params["user_id"]
    return respond(await staff.update_user(services(request), await actor(request), user_id, await body(request)))


async def me(request: Request) -> JSONResponse:
    return respond(await accounts.me(services(request), await actor(request)))


class Branches(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        return respond(await accounts.list_branches(services(request), await actor(request)))

    async def post(self, request: Request) -> JSONResponse:
        return respond(await accounts.create_branch(services(request), await actor(request), await body(request)), 201)


class Users(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        return respond(await accounts.list_users(services(request), await actor(request)))

    async def post(self, request: Request) -> JSONResponse:
        return respond(await accounts.create_user(services(request), await actor(request), await body(request)), 201)


routes = [
    Route("/api/users/login/", login, methods=["POST"], name="login"),
    Route("/api/auth/login/", login, methods=["POST"], name="auth-login"),
    Route("/api/users/token/refresh/", refresh_token, methods=["POST"], name="token-refresh"),
    Route("/api/auth/ws-ticket", ws_ticket, methods=["POST"], name="ws-ticket"),
    Route("/api/auth/csrf", csrf, methods=["GET"], name="auth-csrf"),
    Route("/api/auth/refresh", session_refresh, methods=["POST"], name="auth-refresh"),
    Route("/api/auth/logout", session_logout, methods=["POST"], name="auth-logout"),
    Route("/api/auth/session", session, methods=["GET"], name="auth-session"),
    Route("/api/users/logout/", logout, methods=["POST"], name="logout"),
    Route("/api/users/me/", me, methods=["GET"], name="me"),
    Route("/api/users/me/password/", change_password, methods=["POST"], name="password"),
    Route("/api/users/", Users, methods=["GET", "POST"], name="users"),
    Route("/api/users/{user_id:id}/", update_user, methods=["PATCH"], name="user"),
    Route("/api/branches/", Branches, methods=["GET", "POST"], name="branches"),
]
