"""The cafe feeds (seeds 000-002): /ws/cafe/orders/, /ws/cafe/tables/, /ws/cafe/kitchen/."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from core.auth import CompanyActor
from core.errors import DomainError
from domain.access import read_branch
from domain.screen_counts import ScreenCounts, ScreenKey
from domain.stations import is_station
from events.feeds import group_name, station_group
from realtime.hub import Hub
from realtime.outlet import Outlet
from realtime.socket import CLOSE_BAD_TOKEN, CLOSE_NOT_FOUND, HubSocket, Rejected
from realtime.stream import EventStream


class CafeFeed(HubSocket):
    dialect = "cafe"
    feed = ""
    # This socket (or event stream) in the process's screen counts, once subscribed.
    screen: ScreenKey | None = None
    screens: ScreenCounts
    # '' for an owner's company-wide feed.
    branch_id = ""
    station: str | None = None

    async def subscribe(self, connection: HTTPConnection) -> Outlet:
        """Counted among the branch's screens once subscribed, a socket or an event stream alike."""
        outlet = await super().subscribe(connection)
        self.screens = connection.state.screens
        self.screen = ScreenKey(self.actor.company_id, self.branch_id, self.feed, self.station or "", self.actor.id)
        self.screens.opened(self.screen)
        return outlet

    def _uncount(self) -> None:
        if self.screen is not None:
            self.screens.closed(self.screen)
            self.screen = None

    async def forget(self, hub: Hub, outlet: Outlet) -> None:
        """An event stream's end, or a socket that failed before it was accepted."""
        self._uncount()
        await super().forget(hub, outlet)

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        self._uncount()
        await super().on_disconnect(websocket, close_code)

    def station_of(self, connection: HTTPConnection) -> str | None:
        """Only the kitchen feed has stations."""
        return None

    async def open_outlet(self, connection: HTTPConnection, actor: CompanyActor) -> Outlet:
        if not actor.is_staff:
            raise Rejected(CLOSE_BAD_TOKEN)
        services = connection.state.services
        requested = connection.query_params.get("branch_id") if actor.company_wide else None
        try:
            branch_id = await read_branch(services.database, actor, requested) if requested else actor.branch_id
        except DomainError:
            raise Rejected(CLOSE_NOT_FOUND) from None
        self.branch_id = branch_id or ""
        self.station = self.station_of(connection)
        if self.station is None:
            group = group_name(self.feed, actor.company_id, branch_id)
        elif branch_id is None:
            raise Rejected(CLOSE_NOT_FOUND)  # a station is one branch's: owners name the branch too
        else:
            group = station_group(actor.company_id, branch_id, self.station)
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
    """`?station=bar`: that station's portions only (cafe_kitchen_{company}_{branch}_bar); without it, every station."""

    feed = "kitchen"

    def station_of(self, connection: HTTPConnection) -> str | None:
        station = connection.query_params.get("station")
        if not station:
            return None
        if not is_station(station):
            raise Rejected(CLOSE_NOT_FOUND)
        return station


# Every socket URL also answers GET with Accept: text/event-stream: the same class, as server-sent events.
routes = [
    WebSocketRoute("/ws/cafe/orders/", OrdersFeed, name="ws-cafe-orders"),
    Route("/ws/cafe/orders/", EventStream(OrdersFeed), methods=["GET"], name="sse-cafe-orders"),
    WebSocketRoute("/ws/cafe/tables/", TablesFeed, name="ws-cafe-tables"),
    Route("/ws/cafe/tables/", EventStream(TablesFeed), methods=["GET"], name="sse-cafe-tables"),
    WebSocketRoute("/ws/cafe/kitchen/", KitchenFeed, name="ws-cafe-kitchen"),
    Route("/ws/cafe/kitchen/", EventStream(KitchenFeed), methods=["GET"], name="sse-cafe-kitchen"),
]
