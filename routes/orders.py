"""Orders and their payment."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain import customer_orders, order_items, order_queries, orders
from routes.common import actor, body, no_content, query, respond, services


async def order_list(request: Request) -> Response:
    who = await actor(request)
    if request.method == "POST":
        place = customer_orders.create_order if who.role == "client" else orders.create_order
        return respond(await place(services(request), who, await body(request)), 201)
    return respond(await order_queries.list_orders(services(request), who, query(request)))


async def order_detail(request: Request) -> Response:
    order_id = request.path_params["order_id"]
    if request.method == "GET":
        return respond(await order_queries.get_order(services(request), await actor(request), order_id))
    if request.method == "DELETE":
        await orders.delete_order(services(request), await actor(request), order_id)
        return no_content()
    return respond(await orders.update_order(services(request), await actor(request), order_id, await body(request)))


async def pay(request: Request) -> Response:
    order_id = request.path_params["order_id"]
    return respond(await orders.pay_order(services(request), await actor(request), order_id, await body(request)))


async def order_item_create(request: Request) -> Response:
    return respond(await order_items.add_item(services(request), await actor(request), await body(request)), 201)


async def order_item_detail(request: Request) -> Response:
    item_id = request.path_params["item_id"]
    if request.method == "DELETE":
        return respond(await order_items.remove_item(services(request), await actor(request), item_id))
    return respond(await order_items.change_item(services(request), await actor(request), item_id, await body(request)))


routes = [
    Route("/api/cafe/orders/", order_list, methods=["GET", "POST"], name="orders"),
    Route("/api/cafe/orders/{order_id}/", order_detail, methods=["GET", "PATCH", "DELETE"], name="order"),
    Route("/api/cafe/orders/{order_id}/pay/", pay, methods=["POST"], name="order-pay"),
    Route("/api/cafe/order-items/", order_item_create, methods=["POST"], name="order-items"),
    Route("/api/cafe/order-items/{item_id}/", order_item_detail, methods=["PATCH", "DELETE"], name="order-item"),
]
