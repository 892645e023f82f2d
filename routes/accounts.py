"""Login, tokens, the current user, branches and staff."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain import accounts
from routes.common import actor, body, client_address, respond, services


async def login(request: Request) -> JSONResponse:
    return respond(await accounts.login(services(request), await body(request), client_address(request)))


async def refresh_token(request: Request) -> JSONResponse:
    return respond(await accounts.refresh(services(request), await body(request)))


async def me(request: Request) -> JSONResponse:
    return respond(await accounts.me(services(request), actor(request)))


async def branches(request: Request) -> JSONResponse:
    if request.method == "POST":
        return respond(await accounts.create_branch(services(request), actor(request), await body(request)), 201)
    return respond(await accounts.list_branches(services(request), actor(request)))


async def users(request: Request) -> JSONResponse:
    if request.method == "POST":
        return respond(await accounts.create_user(services(request), actor(request), await body(request)), 201)
    return respond(await accounts.list_users(services(request), actor(request)))


routes = [
    Route("/api/users/login/", login, methods=["POST"], name="login"),
    Route("/api/auth/login/", login, methods=["POST"], name="auth-login"),
    Route("/api/users/token/refresh/", refresh_token, methods=["POST"], name="token-refresh"),
    Route("/api/users/me/", me, methods=["GET"], name="me"),
    Route("/api/users/", users, methods=["GET", "POST"], name="users"),
    Route("/api/branches/", branches, methods=["GET", "POST"], name="branches"),
]
