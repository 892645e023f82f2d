"""The cafe feeds (seeds 000-002): /ws/cafe/orders/, /ws/cafe/tables/, /ws/cafe/kitchen/."""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.requests import HTTPConnection
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

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
    """A branch's feed (an owner's: the company's, or `?branch_id=`'s), greeted with its group and counted among
    the branch's screens. A subclass names its `feed` and may give `station_of`."""

    dialect = "cafe"
    # Which feed: orders, tables or kitchen (its group's name, and its place in the screen counts).
    feed: ClassVar[str] = ""
    # Chosen with the channels: the branch (None for an owner's company-wide feed), the station, their group.
    branch_id: str | None = None
    station: str | None = None
    group: str
    # The process's screen counts and this socket's (or event stream's) place in them, while attached.
    screens: ScreenCounts
    screen: ScreenKey | None = None

    def station_of(self, connection: HTTPConnection) -> str | None:
        """Only the kitchen feed has stations."""
        return None

    async def choose_channels(self, connection: HTTPConnection) -> set[str]:
        if not self.actor.is_staff:
            raise Rejected(CLOSE_BAD_TOKEN)
        services = connection.state.services
        requested = connection.query_params.get("branch_id") if self.actor.company_wide else None
        try:
            if requested:
                self.branch_id = await read_branch(services.database, self.actor, requested)
            else:
                self.branch_id = self.actor.branch_id
        except DomainError:
            raise Rejected(CLOSE_NOT_FOUND) from None
        self.station = self.station_of(connection)
        if self.station is None:
            self.group = group_name(self.feed, self.actor.company_id, self.branch_id)
        elif self.branch_id is None:
            raise Rejected(CLOSE_NOT_FOUND)  # a station is one branch's: owners name the branch too
        else:
            self.group = station_group(self.actor.company_id, self.branch_id, self.station)
        return {self.group}

    def greeting(self) -> dict[str, Any]:
        return {
            "type": "connection_established",
            "company_id": self.actor.company_id,
            "branch_id": self.branch_id,
            "group": self.group,
        }

    async def on_attached(self, connection: HTTPConnection) -> None:
        """Counted among the branch's screens once registered, a socket or an event stream alike."""
        self.screens = connection.state.screens
        self.screen = ScreenKey(
            self.actor.company_id, self.branch_id or "", self.feed, self.station or "", self.actor.id
        )
        self.screens.opened(self.screen)

    async def forget(self, hub: Hub, outlet: Outlet) -> None:
        """Out of the screen counts too, however the socket or stream ends."""
        if self.screen is not None:
            self.screens.closed(self.screen)
            self.screen = None
        await super().forget(hub, outlet)

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
