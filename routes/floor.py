"""Zones and tables."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain import floor, sessions
from routes.common import actor, body, respond, services


async def zones(request: Request) -> JSONResponse:
    if request.method == "POST":
        return respond(await floor.create_zone(services(request), await actor(request), await body(request)), 201)
    return respond(
        await floor.list_zones(services(request), await actor(request), request.query_params.get("branch_id"))
    )


async def tables(request: Request) -> JSONResponse:
    if request.method == "POST":
        return respond(await floor.create_table(services(request), await actor(request), await body(request)), 201)
    return respond(
        await floor.list_tables(services(request), await actor(request), request.query_params.get("branch_id"))
    )


async def table(request: Request) -> JSONResponse:
    table_id = request.path_params["table_id"]
    if request.method == "GET":
        return respond(await floor.get_table(services(request), await actor(request), table_id))
    return respond(await floor.update_table(services(request), await actor(request), table_id, await body(request)))


async def session_open(request: Request) -> JSONResponse:
    return respond(await sessions.open_session(services(request), await actor(request), await body(request)), 201)


async def session_detail(request: Request) -> JSONResponse:
    session_id = request.path_params["session_id"]
    if request.method == "GET":
        return respond(await sessions.get_session(services(request), await actor(request), session_id))
    return respond(
        await sessions.update_guests(services(request), await actor(request), session_id, await body(request))
    )


async def session_close(request: Request) -> JSONResponse:
    return respond(
        await sessions.close_session(services(request), await actor(request), request.path_params["session_id"])
    )


routes = [
    Route("/api/cafe/zones/", zones, methods=["GET", "POST"], name="zones"),
    Route("/api/cafe/tables/", tables, methods=["GET", "POST"], name="tables"),
    Route("/api/cafe/tables/{table_id}/", table, methods=["GET", "PATCH"], name="table"),
    Route("/api/cafe/table-sessions/", session_open, methods=["POST"], name="table-sessions"),
    Route("/api/cafe/table-sessions/{session_id}/", session_detail, methods=["GET", "PATCH"], name="table-session"),
    Route("/api/cafe/table-sessions/{session_id}/close/", session_close, methods=["POST"], name="table-session-close"),
]
