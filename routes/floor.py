"""Zones and tables."""

from __future__ import annotations

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain import floor, sessions
from routes.common import actor, body, respond, services


class Zones(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        return respond(
            await floor.list_zones(services(request), await actor(request), request.query_params.get("branch_id"))
        )

    async def post(self, request: Request) -> JSONResponse:
        return respond(await floor.create_zone(services(request), await actor(request), await body(request)), 201)


class Tables(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        return respond(
            await floor.list_tables(services(request), await actor(request), request.query_params.get("branch_id"))
        )

    async def post(self, request: Request) -> JSONResponse:
        return respond(await floor.create_table(services(request), await actor(request), await body(request)), 201)


class Table(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        table_id = request.path_params["table_id"]
        return respond(await floor.get_table(services(request), await actor(request), table_id))

    async def patch(self, request: Request) -> JSONResponse:
        table_id = request.path_params["table_id"]
        return respond(await floor.update_table(services(request), await actor(request), table_id, await body(request)))


async def session_open(request: Request) -> JSONResponse:
    return respond(await sessions.open_session(services(request), await actor(request), await body(request)), 201)


class TableSession(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        session_id = request.path_params["session_id"]
        return respond(await sessions.get_session(services(request), await actor(request), session_id))

    async def patch(self, request: Request) -> JSONResponse:
        session_id = request.path_params["session_id"]
        return respond(
            await sessions.update_guests(services(request), await actor(request), session_id, await body(request))
        )


async def session_close(request: Request) -> JSONResponse:
    return respond(
        await sessions.close_session(services(request), await actor(request), request.path_params["session_id"])
    )


routes = [
    Route("/api/cafe/zones/", Zones, methods=["GET", "POST"], name="zones"),
    Route("/api/cafe/tables/", Tables, methods=["GET", "POST"], name="tables"),
    Route("/api/cafe/tables/{table_id}/", Table, methods=["GET", "PATCH"], name="table"),
    Route("/api/cafe/table-sessions/", session_open, methods=["POST"], name="table-sessions"),
    Route("/api/cafe/table-sessions/{session_id}/", TableSession, methods=["GET", "PATCH"], name="table-session"),
    Route("/api/cafe/table-sessions/{session_id}/close/", session_close, methods=["POST"], name="table-session-close"),
]
