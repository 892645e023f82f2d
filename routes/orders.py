"""Orders and their payment."""

from __future__ import annotations

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain import customer_orders, order_items, order_queries, orders
from routes.common import actor, body, no_content, query, respond, services


class Orders(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        return respond(await order_queries.list_orders(services(request), await actor(request), query(request)))

    async def post(self, request: Request) -> Response:
        who = await actor(request)
        place = customer_orders.create_order if who.role == "client" else orders.create_order
        return respond(await place(services(request), who, await body(request)), 201)


class Order(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        return respond(await order_queries.get_order(services(request), await actor(request), order_id))

    async def patch(self, request: Request) -> Response:
        order_id = request.path_params["order_id"]
        return respond(
            await orders.update_order(services(request), await actor(request), order_id, await body(request))
        )

    async def delete(self, request: Request) -> Response:
        await orders.delete_order(services(request), await actor(request), request.path_params["order_id"])
        return no_content()


async def pay(request: Request) -> Response:
    order_id = request.path_params["order_id"]
    return respond(await orders.pay_order(services(request), await actor(request), order_id, await body(request)))


async def order_item_create(request: Request) -> Response:
    return respond(await order_items.add_item(services(request), await actor(request), await body(request)), 201)


class OrderItem(HTTPEndpoint):
    async def patch(self, request: Request) -> Response:
        item_id = request.path_params["item_id"]
        return respond(
            await order_items.change_item(services(request), await actor(request), item_id, await body(request))
        )

    async def delete(self, request: Request) -> Response:
        item_id = request.path_params["item_id"]
        return respond(await order_items.remove_item(services(request), await actor(request), item_id))


routes = [
    Route("/api/cafe/orders/", Orders, methods=["GET", "POST"], name="orders"),
    Route("/api/cafe/orders/{order_id}/", Order, methods=["GET", "PATCH", "DELETE"], name="order"),
    Route("/api/cafe/orders/{order_id}/pay/", pay, methods=["POST"], name="order-pay"),
    Route("/api/cafe/order-items/", order_item_create, methods=["POST"], name="order-items"),
    Route("/api/cafe/order-items/{item_id}/", OrderItem, methods=["PATCH", "DELETE"], name="order-item"),
]
