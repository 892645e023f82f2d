"""Broadcasts from the office, and the notifications a user must not miss."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain import broadcasts, notifications
from domain.validate import query_flag
from routes.common import actor, body, respond, services


async def broadcast(request: Request) -> JSONResponse:
    return respond(await broadcasts.send_broadcast(services(request), await actor(request), await body(request)), 201)


async def notification_list(request: Request) -> JSONResponse:
    unread_only = query_flag(dict(request.query_params), "unread")
    return respond(await notifications.list_notifications(services(request), await actor(request), unread_only))


async def acknowledge(request: Request) -> JSONResponse:
    notification_id = request.path_params["notification_id"]
    return respond(await notifications.acknowledge(services(request), await actor(request), notification_id))


routes = [
    Route("/api/cafe/broadcasts/", broadcast, methods=["POST"], name="broadcasts"),
    Route("/api/cafe/notifications/", notification_list, methods=["GET"], name="notifications"),
    Route(
        "/api/cafe/notifications/{notification_id}/acknowledge/",
        acknowledge,
        methods=["POST"],
        name="notification-acknowledge",
    ),
]
