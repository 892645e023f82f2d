"""Screens online: the branch's open feed sockets, across every process."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain import screens
from routes.common import actor, query, respond, services


async def screen_list(request: Request) -> JSONResponse:
    interval = request.state.settings.screen_interval
    branch = query(request).get("branch")
    return respond(await screens.list_screens(services(request), await actor(request), branch, interval))


routes = [Route("/api/cafe/screens/", screen_list, methods=["GET"], name="screens")]
