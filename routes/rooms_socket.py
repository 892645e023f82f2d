"""The rooms socket (seed 004) at /, /ws/ and /socket: automatic rooms by role, join-room and leave-room."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from core.errors import DomainError, error_message
from events import rooms
from realtime.socket import CLOSE_BAD_TOKEN, HubSocket, Rejected
from realtime.stream import EventStream
from storage.sql import Database

MAX_STREAM_ROOMS = 20


class RoomsSocket(HubSocket):
    """The rooms of the user's role from the start, the company's channel, and join-room / leave-room."""

    dialect = "rooms"
    token_refreshed = "token-refreshed"
    # Taken from the connection before the channels: rooms are looked up (and allowed) in the database.
    db: Database
    # The rooms this client is in, each with its channel: the automatic ones, then those joined.
    rooms: dict[str, str]

    async def choose_channels(self, connection: HTTPConnection) -> set[str]:
        self.db = connection.state.services.database
        automatic = rooms.automatic_rooms(self.actor)
        self.rooms = {room: await rooms.room_channel(self.db, self.actor, room) for room in automatic}
        if self.streaming:
            await self.join_requested(connection)
        return {*self.rooms.values(), rooms.company_channel(self.actor.company_id)}

    def greeting(self) -> dict[str, Any]:
        return {"type": "connected", "data": {"userId": self.actor.id, "role": self.actor.role}}

    async def join_requested(self, connection: HTTPConnection) -> None:
        """An event stream cannot send join-room: it names its rooms in `?rooms=a,b`, each allowed as join-room is.
        They are its channels from the start, so a resume replays them too."""
        requested = [room for room in connection.query_params.get("rooms", "").split(",") if room]
        if len(requested) > MAX_STREAM_ROOMS:
            raise Rejected(CLOSE_BAD_TOKEN, f"At most {MAX_STREAM_ROOMS} rooms in ?rooms=.", 400)
        for room in requested:
            try:
                self.rooms[room] = await rooms.room_channel(self.db, self.actor, room)
            except DomainError as refused:
                raise Rejected(CLOSE_BAD_TOKEN, error_message(refused.detail), refused.status_code) from None

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


# Every socket URL also answers GET with Accept: text/event-stream: the same class, as server-sent events.
routes = [
    WebSocketRoute("/", RoomsSocket, name="ws-rooms"),
    Route("/", EventStream(RoomsSocket), methods=["GET"], name="sse-rooms"),
    WebSocketRoute("/ws/", RoomsSocket, name="ws-rooms-ws"),
    Route("/ws/", EventStream(RoomsSocket), methods=["GET"], name="sse-rooms-ws"),
    # The path every mini-app build since February opens.
    WebSocketRoute("/socket", RoomsSocket, name="ws-rooms-socket"),
    Route("/socket", EventStream(RoomsSocket), methods=["GET"], name="sse-rooms-socket"),
]
