"""A customer's bonus balance and its history."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain import bonuses
from routes.common import actor, respond, services


async def my_bonuses(request: Request) -> JSONResponse:
    return respond(await bonuses.my_bonuses(services(request), await actor(request)))


routes = [Route("/api/bonuses/me/", my_bonuses, methods=["GET"], name="bonuses-me")]
