"""Login, tokens, the current user, branches and staff."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain import accounts, staff, tickets
from routes import paths  # noqa: F401  (registers {name:id})
from routes.common import actor, bearer, body, client_address, no_content, respond, services


async def login(request: Request) -> JSONResponse:
    return respond(await accounts.login(services(request), await body(request), client_address(request)))


async def refresh_token(request: Request) -> JSONResponse:
    return respond(await accounts.refresh(services(request), await body(request)))


async def ws_ticket(request: Request) -> JSONResponse:
    await actor(request)  # the same checks as any authenticated request, revocation included
    return respond(await tickets.issue_ticket(services(request), bearer(request)))


async def logout(request: Request) -> Response:
    await accounts.logout(services(request), await body(request))
    return no_content()


async def change_password(request: Request) -> JSONResponse:
    who, data = await actor(request), await body(request)
    return respond(await staff.change_password(services(request), who, data, client_address(request)))


async def update_user(request: Request) -> JSONResponse:
    user_id = request.path_params["user_id"]
    return respond(await staff.update_user(services(request), await actor(request), user_id, await body(request)))


async def me(request: Request) -> JSONResponse:
    return respond(await accounts.me(services(request), await actor(request)))


async def branches(request: Request) -> JSONResponse:
    if request.method == "POST":
        return respond(await accounts.create_branch(services(request), await actor(request), await body(request)), 201)
    return respond(await accounts.list_branches(services(request), await actor(request)))


async def users(request: Request) -> JSONResponse:
    if request.method == "POST":
        return respond(await accounts.create_user(services(request), await actor(request), await body(request)), 201)
    return respond(await accounts.list_users(services(request), await actor(request)))


routes = [
    Route("/api/users/login/", login, methods=["POST"], name="login"),
    Route("/api/auth/login/", login, methods=["POST"], name="auth-login"),
    Route("/api/users/token/refresh/", refresh_token, methods=["POST"], name="token-refresh"),
    Route("/api/auth/ws-ticket", ws_ticket, methods=["POST"], name="ws-ticket"),
    Route("/api/users/logout/", logout, methods=["POST"], name="logout"),
    Route("/api/users/me/", me, methods=["GET"], name="me"),
    Route("/api/users/me/password/", change_password, methods=["POST"], name="password"),
    Route("/api/users/", users, methods=["GET", "POST"], name="users"),
    Route("/api/users/{user_id:id}/", update_user, methods=["PATCH"], name="user"),
    Route("/api/branches/", branches, methods=["GET", "POST"], name="branches"),
]
