"""The cafe feeds (seeds 000-002): /ws/cafe/orders/, /ws/cafe/tables/, /ws/cafe/kitchen/."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from domain.access import read_branch
from domain.auth import CompanyActor
from domain.errors import DomainError
from domain.feeds import group_name
from realtime.outlet import Outlet
from realtime.socket import CLOSE_BAD_TOKEN, CLOSE_NOT_FOUND, HubSocket, Rejected
from realtime.stream import EventStream


class CafeFeed(HubSocket):
    dialect = "cafe"
    feed = ""

    async def open_outlet(self, connection: HTTPConnection, actor: CompanyActor) -> Outlet:
        if not actor.is_staff:
            raise Rejected(CLOSE_BAD_TOKEN)
        services = connection.state.services
        requested = connection.query_params.get("branch_id") if actor.company_wide else None
        try:
            branch_id = await read_branch(services.database, actor, requested) if requested else actor.branch_id
        except DomainError:
            raise Rejected(CLOSE_NOT_FOUND) from None
        group = group_name(self.feed, actor.company_id, branch_id)
        outlet = Outlet(actor.company_id, {group}, self.max_queue(connection))
        self.outlet = outlet
        self.reply(
            {"type": "connection_established", "company_id": actor.company_id, "branch_id": branch_id, "group": group}
        )
        return outlet

    async def on_message(self, websocket: WebSocket, message: dict[str, Any]) -> None:
        if message.get("action") == "ping":
            self.reply({"type": "pong"})
        else:
            self.reply_error(f"Unknown action: {str(message.get('action'))[:50]}. Supported: ping.")


class OrdersFeed(CafeFeed):
    feed = "orders"


class TablesFeed(CafeFeed):
    feed = "tables"


class KitchenFeed(CafeFeed):
    feed = "kitchen"


# Every socket URL also answers GET with Accept: text/event-stream: the same class, as server-sent events.
routes = [
    WebSocketRoute("/ws/cafe/orders/", OrdersFeed, name="ws-cafe-orders"),
    Route("/ws/cafe/orders/", EventStream(OrdersFeed), methods=["GET"], name="sse-cafe-orders"),
    WebSocketRoute("/ws/cafe/tables/", TablesFeed, name="ws-cafe-tables"),
    Route("/ws/cafe/tables/", EventStream(TablesFeed), methods=["GET"], name="sse-cafe-tables"),
    WebSocketRoute("/ws/cafe/kitchen/", KitchenFeed, name="ws-cafe-kitchen"),
    Route("/ws/cafe/kitchen/", EventStream(KitchenFeed), methods=["GET"], name="sse-cafe-kitchen"),
]
