"""The entity sockets (seed 003): one order, table, session, waiter or restaurant per socket."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

from starlette.requests import HTTPConnection
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from core.errors import DomainError, error_message
from domain import accounts, notifications, order_queries, orders, restaurants, sessions
from domain.access import may_open_entity_socket
from domain.floor import visible_table
from events import entities
from events.services import Services
from realtime.socket import CLOSE_BAD_TOKEN, CLOSE_NOT_FOUND, HubSocket, Rejected
from realtime.stream import EventStream
from storage.sql import Database


class EntitySocket(HubSocket):
    """An entity from the URL, its channels, its state on connect, and `{"action": ...}` messages.

    A subclass names its `path_param` and gives `channels`; it may name its `kind`, its `actions` (each answered
    by its `do_<action>` method) and give `send_state`."""

    dialect = "entity"
    # Which entity, as domain/access.py's may_open_entity_socket knows it (customers open only their order's).
    kind: ClassVar[str] = ""
    # The URL's parameter that holds the entity's id.
    path_param: ClassVar[str] = ""
    # The actions besides ping, each answered by `do_<action>`.
    actions: ClassVar[tuple[str, ...]] = ()
    # Taken from the connection before the channels: what the state and every action work with.
    services: Services
    db: Database
    entity_id: str

    async def choose_channels(self, connection: HTTPConnection) -> set[str]:
        if not may_open_entity_socket(self.actor, self.kind):
            raise Rejected(CLOSE_BAD_TOKEN)
        self.services = connection.state.services
        self.db = self.services.database
        self.entity_id = connection.path_params[self.path_param]
        try:
            return set(await self.channels())
        except DomainError:
            raise Rejected(CLOSE_NOT_FOUND) from None

    @abstractmethod
    async def channels(self) -> list[str]:
        """The entity's channels; a DomainError (not found, not visible to `actor`) refuses the socket (4404)."""

    async def send_state(self) -> None:
        """The entity's current state, on connect and for `get_status`-like actions."""

    async def on_attached(self, connection: HTTPConnection) -> None:
        await self.send_state()

    async def on_message(self, websocket: WebSocket, message: dict[str, Any]) -> None:
        action = message.get("action")
        if action == "ping":
            self.reply({"type": "pong"})
            return
        if action not in self.actions:
            supported = ", ".join(("ping", *self.actions))
            self.reply_error(f"Unknown action: {str(action)[:50]}. Supported: {supported}.")
            return
        try:
            await getattr(self, f"do_{action}")(message)
        except DomainError as error:
            self.reply_error(error_message(error.detail))

    def fields(self, message: dict[str, Any], *names: str) -> dict[str, Any]:
        return {name: message[name] for name in names if name in message}


class OrderSocket(EntitySocket):
    kind = "order"
    path_param = "order_id"
    actions = ("get_status", "update_status")

    async def channels(self) -> list[str]:
        await orders.visible_order(self.db, self.actor, self.entity_id)
        return [entities.order_channel(self.actor.company_id, self.entity_id)]

    async def send_state(self) -> None:
        order = await order_queries.get_order(self.services, self.actor, self.entity_id)
        self.reply(entities.message("order_status", entities.order_status_data(order)))

    async def do_get_status(self, message: dict[str, Any]) -> None:
        await self.send_state()

    async def do_update_status(self, message: dict[str, Any]) -> None:
        await orders.set_status(self.services, self.actor, self.entity_id, message.get("status"), message.get("reason"))


class OrderItemsSocket(EntitySocket):
    kind = "order_items"
    path_param = "order_id"
    actions = ("get_items",)

    async def channels(self) -> list[str]:
        await orders.visible_order(self.db, self.actor, self.entity_id)
        return [entities.order_items_channel(self.actor.company_id, self.entity_id)]

    async def send_state(self) -> None:
        order = await order_queries.get_order(self.services, self.actor, self.entity_id)
        self.reply(entities.message("items_list", entities.items_data(order)))

    async def do_get_items(self, message: dict[str, Any]) -> None:
        await self.send_state()


class TableSocket(EntitySocket):
    path_param = "table_id"
    actions = ("get_status", "occupy", "release")

    async def channels(self) -> list[str]:
        await visible_table(self.db, self.actor, self.entity_id)
        return [entities.table_channel(self.actor.company_id, self.entity_id)]

    async def send_state(self) -> None:
        await visible_table(self.db, self.actor, self.entity_id)
        self.reply(entities.message("table_status", await entities.table_data(self.db, self.entity_id)))

    async def do_get_status(self, message: dict[str, Any]) -> None:
        await self.send_state()

    async def do_occupy(self, message: dict[str, Any]) -> None:
        guests = message.get("guests_count", 1)
        if isinstance(guests, bool) or not isinstance(guests, int) or not 1 <= guests <= 1000:
            self.reply_error("guests_count must be an integer between 1 and 1000.")
            return
        await sessions.occupy_table(self.services, self.actor, self.entity_id, guests)

    async def do_release(self, message: dict[str, Any]) -> None:
        await sessions.release_table(self.services, self.actor, self.entity_id)


class SessionSocket(EntitySocket):
    path_param = "session_id"
    actions = ("get_status", "update_guests_count", "close_session")

    async def channels(self) -> list[str]:
        await sessions.visible_session(self.db, self.actor, self.entity_id)
        return [entities.session_channel(self.actor.company_id, self.entity_id)]

    async def send_state(self) -> None:
        session = await sessions.get_session(self.services, self.actor, self.entity_id)
        self.reply(entities.message("session_status", session))

    async def do_get_status(self, message: dict[str, Any]) -> None:
        await self.send_state()

    async def do_update_guests_count(self, message: dict[str, Any]) -> None:
        data = self.fields(message, "guests_count")
        await sessions.update_guests(self.services, self.actor, self.entity_id, data)

    async def do_close_session(self, message: dict[str, Any]) -> None:
        await sessions.close_session(self.services, self.actor, self.entity_id)


class WaiterSocket(EntitySocket):
    """The waiter itself, or an owner/admin of its company, or a manager of its branch."""

    path_param = "waiter_id"
    actions = ("get_tasks", "acknowledge")

    async def channels(self) -> list[str]:
        waiter = await accounts.watchable_waiter(self.db, self.actor, self.entity_id)
        return [entities.waiter_channel(self.actor.company_id, waiter["id"])]

    async def send_state(self) -> None:
        pending = await notifications.waiting_for(self.services, self.actor, self.entity_id)
        self.reply(entities.message("tasks_list", {"waiter_id": self.entity_id, "notifications": pending}))

    async def do_get_tasks(self, message: dict[str, Any]) -> None:
        await self.send_state()

    async def do_acknowledge(self, message: dict[str, Any]) -> None:
        if self.entity_id != self.actor.id:
            self.reply_error("Only the waiter can acknowledge its notifications.")
            return
        await notifications.acknowledge(self.services, self.actor, message.get("notification_id"))


class RestaurantSocket(EntitySocket):
    path_param = "restaurant_id"
    actions = ("get_status",)

    async def channels(self) -> list[str]:
        branch = await restaurants.visible_restaurant(self.db, self.actor, self.entity_id)
        return [entities.restaurant_channel(self.actor.company_id, branch["id"])]

    async def send_state(self) -> None:
        summary = await restaurants.restaurant_status(self.db, self.actor, self.entity_id)
        self.reply(entities.message("restaurant_status", summary))

    async def do_get_status(self, message: dict[str, Any]) -> None:
        await self.send_state()


class RestaurantNotificationsSocket(EntitySocket):
    path_param = "restaurant_id"

    async def channels(self) -> list[str]:
        branch = await restaurants.visible_restaurant(self.db, self.actor, self.entity_id)
        return [entities.restaurant_notifications_channel(self.actor.company_id, branch["id"])]


# Every socket URL also answers GET with Accept: text/event-stream: the same class, as server-sent events.
routes = [
    WebSocketRoute("/ws/orders/{order_id}/", OrderSocket, name="ws-order"),
    Route("/ws/orders/{order_id}/", EventStream(OrderSocket), methods=["GET"], name="sse-order"),
    WebSocketRoute("/ws/orders/{order_id}/items/", OrderItemsSocket, name="ws-order-items"),
    Route("/ws/orders/{order_id}/items/", EventStream(OrderItemsSocket), methods=["GET"], name="sse-order-items"),
    WebSocketRoute("/ws/tables/sessions/{session_id}/", SessionSocket, name="ws-table-session"),
    Route("/ws/tables/sessions/{session_id}/", EventStream(SessionSocket), methods=["GET"], name="sse-table-session"),
    WebSocketRoute("/ws/tables/{table_id}/", TableSocket, name="ws-table"),
    Route("/ws/tables/{table_id}/", EventStream(TableSocket), methods=["GET"], name="sse-table"),
    WebSocketRoute("/ws/waiters/{waiter_id}/", WaiterSocket, name="ws-waiter"),
    Route("/ws/waiters/{waiter_id}/", EventStream(WaiterSocket), methods=["GET"], name="sse-waiter"),
    WebSocketRoute("/ws/restaurants/{restaurant_id}/", RestaurantSocket, name="ws-restaurant"),
    Route("/ws/restaurants/{restaurant_id}/", EventStream(RestaurantSocket), methods=["GET"], name="sse-restaurant"),
    WebSocketRoute(
        "/ws/restaurants/{restaurant_id}/notifications/",
        RestaurantNotificationsSocket,
        name="ws-restaurant-notifications",
    ),
    Route(
        "/ws/restaurants/{restaurant_id}/notifications/",
        EventStream(RestaurantNotificationsSocket),
        methods=["GET"],
        name="sse-restaurant-notifications",
    ),
]
