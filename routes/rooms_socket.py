"""The rooms socket (seed 004) at /, /ws/ and /socket: automatic rooms by role, join-room and leave-room."""

from __future__ import annotations

from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from domain import rooms
from domain.auth import CompanyActor
from domain.errors import DomainError, error_message
from realtime.outlet import Outlet
from realtime.socket import HubSocket


class RoomsSocket(HubSocket):
    dialect = "rooms"
    token_refreshed = "token-refreshed"

    async def open_outlet(self, websocket: WebSocket, actor: CompanyActor) -> Outlet:
        self.db = websocket.state.services.database
        self.rooms = {room: await rooms.room_channel(self.db, actor, room) for room in rooms.automatic_rooms(actor)}
        channels = {*self.rooms.values(), rooms.company_channel(actor.company_id)}
        self.outlet = Outlet(actor.company_id, channels, self.max_queue(websocket))
        self.reply({"type": "connected", "data": {"userId": actor.id, "role": actor.role}})
        return self.outlet

    def reply_error(self, text: str) -> None:
        self.reply({"type": "error", "data": {"message": text}})

    async def on_message(self, websocket: WebSocket, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "ping":
            self.reply({"type": "pong"})
            return
        if kind not in ("join-room", "leave-room"):
            self.reply_error(f"Unknown type: {str(kind)[:50]}. Supported: ping, join-room, leave-room.")
            return
        # Older mini-app builds send {type, payload} instead of {type, data}.
        data = message["data"] if "data" in message else message.get("payload")
        room = data.get("roomId") if isinstance(data, dict) else None
        if not isinstance(room, str) or not room:
            self.reply_error("data.roomId is required.")
        elif kind == "join-room":
            await self.join(websocket, room)
        else:
            self.leave(websocket, room)

    async def join(self, websocket: WebSocket, room: str) -> None:
        try:
            channel = await rooms.room_channel(self.db, self.actor, room)
        except DomainError as refused:
            self.reply_error(error_message(refused.detail))
            return
        self.rooms[room] = channel
        assert self.outlet is not None, "messages reach only an attached socket (HubSocket.on_receive)"
        self.hub(websocket).join(self.outlet, channel)
        self.reply({"type": "room-joined", "data": {"roomId": room}})

    def leave(self, websocket: WebSocket, room: str) -> None:
        channel = self.rooms.pop(room, None)
        if channel is None:
            self.reply_error(f"Not in the room {room[:80]!r}.")
            return
        assert self.outlet is not None, "messages reach only an attached socket (HubSocket.on_receive)"
        self.hub(websocket).leave(self.outlet, channel)
        self.reply({"type": "room-left", "data": {"roomId": room}})


routes = [
    WebSocketRoute("/", RoomsSocket, name="ws-rooms"),
    WebSocketRoute("/ws/", RoomsSocket, name="ws-rooms-ws"),
    # The path every mini-app build since February opens.
    WebSocketRoute("/socket", RoomsSocket, name="ws-rooms-socket"),
]
