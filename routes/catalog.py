"""Menu items and clients."""

from __future__ import annotations

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain import catalog, order_queries
from routes.common import actor, body, respond, services


class MenuItems(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        branch_id = request.query_params.get("branch_id")
        return respond(await catalog.list_menu_items(services(request), await actor(request), branch_id))

    async def post(self, request: Request) -> JSONResponse:
        return respond(
            await catalog.create_menu_item(services(request), await actor(request), await body(request)), 201
        )


async def menu_item(request: Request) -> JSONResponse:
    item_id = request.path_params["item_id"]
    return respond(
        await catalog.update_menu_item(services(request), await actor(request), item_id, await body(request))
    )


class Clients(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        search = request.query_params.get("search")
        return respond(await catalog.list_clients(services(request), await actor(request), search))

    async def post(self, request: Request) -> JSONResponse:
        return respond(await catalog.create_client(services(request), await actor(request), await body(request)), 201)


async def client_orders(request: Request) -> JSONResponse:
    client_id = request.path_params["client_id"]
    page = request.query_params.get("page")
    return respond(await order_queries.client_orders(services(request), await actor(request), client_id, page))


routes = [
    Route("/api/cafe/menu-items/", MenuItems, methods=["GET", "POST"], name="menu-items"),
    Route("/api/cafe/menu-items/{item_id}/", menu_item, methods=["PATCH"], name="menu-item"),
    Route("/api/cafe/clients/", Clients, methods=["GET", "POST"], name="clients"),
    Route("/api/cafe/clients/{client_id}/orders/", client_orders, methods=["GET"], name="client-orders"),
]
