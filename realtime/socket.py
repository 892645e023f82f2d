"""What every socket dialect shares: the token, the close codes, the connect, the send pump, message parsing.

`HubClient` is the part that does not depend on the transport: who connects, which channels it gets,
its greeting or state, and its registration with the hub. `HubSocket` serves it as a WebSocket; an
event stream (realtime/stream.py) serves the same client as server-sent events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from typing import Any, ClassVar, final

from starlette.endpoints import WebSocketEndpoint
from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from core.auth import Actor, CompanyActor, actor_from_token, bearer_value, company_bound
from core.errors import NotAuthenticated
from core.metrics import SOCKETS
from domain.revocation import check_current
from domain.tickets import redeem_ticket, socket_actor
from domain.validate import parse_json
from realtime.direct import RAW_SEND, frame_writer_for
from realtime.hub import Hub
from realtime.outlet import Outlet, WriteFrame
from realtime.socket_leases import SocketLeases

log = logging.getLogger("cafe_rt.socket")
CLOSE_BAD_TOKEN = 4003
CLOSE_NO_COMPANY = 4004
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 1008


class RateLimiter:
    """A token bucket: `rate` messages a second on average, `burst` at once."""

    __slots__ = ("_rate", "_burst", "_tokens", "_updated")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate, self._burst = rate, burst
        self._tokens = float(burst)
        self._updated = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


# What an event stream answers instead of a close code, before its response starts.
REFUSALS = {
    CLOSE_BAD_TOKEN: (403, "This user may not open this feed."),
    CLOSE_NO_COMPANY: (403, "The user belongs to no company."),
    CLOSE_NOT_FOUND: (404, "Not found."),
    CLOSE_TOO_MANY: (429, "This user has too many open sockets and event streams."),
}


class Rejected(Exception):
    """The connection is refused: a WebSocket with a close code (sent after accept, so clients can read it),
    an event stream with an HTTP status and a `detail` before its response starts."""

    def __init__(self, code: int, detail: str | None = None, status: int | None = None) -> None:
        super().__init__(code)
        self.code = code
        default_status, default_detail = REFUSALS.get(code, (403, "Refused."))
        self.status = status or default_status
        self.detail = detail or default_detail


def bearer_token(connection: HTTPConnection) -> str | None:
    """The access token of a handshake (or an event stream's request): `?token=`, else as REST reads it
    (Bearer header, else the access cookie)."""
    token = connection.query_params.get("token")
    if token:
        return token
    return bearer_value(connection.headers.get("authorization", ""), connection.cookies)


def resume_position(connection: HTTPConnection) -> int | None:
    """Where a client resumes: `Last-Event-ID` (EventSource sends it on its own reconnects), else `?last_event_id=`."""
    value = connection.headers.get("last-event-id") or connection.query_params.get("last_event_id")
    # isdigit() alone lets "²" through, which int() refuses.
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def fits(fresh: Actor, opened: Actor) -> bool:
    """Whether a refreshed token may extend a socket opened with another: same user, standing and token version."""
    return (fresh.id, fresh.company_id, fresh.role, fresh.branch_id, fresh.city_ids, fresh.token_version) == (
        opened.id,
        opened.company_id,
        opened.role,
        opened.branch_id,
        opened.city_ids,
        opened.token_version,
    )


class HubClient(ABC):
    """A client of the hub, whatever carries it: a WebSocket (`HubSocket`) or an event stream (realtime/stream.py).

    `subscribe` is the one way in, before anything is sent: authenticate (`actor`), take a place under
    MAX_SOCKETS_PER_USER, ask `choose_channels`, build the outlet and queue the `greeting` in it, register it
    with the hub (a resume queued behind the greeting), check revocation, then `on_attached`. A refusal at any
    step raises Rejected, with what was taken given back.

    A subclass must provide `dialect` and `choose_channels`. It may override `greeting`, `on_attached`,
    `reply_error` (the dialect's error message) and `forget` (to undo what its `on_attached` did, then super()).
    """

    # The ASGI connection, kept as Starlette's endpoints keep it.
    scope: Scope
    receive: Receive
    send: Send
    # The label of this client in cafe_rt_sockets / cafe_rt_event_streams.
    dialect: ClassVar[str] = ""
    # An event stream (an HTTP request) is read-only: a dialect may take from its query what a socket asks for.
    streaming: bool
    # Set by subscribe right after authentication, before the channels are chosen: the user belongs to a company.
    actor: CompanyActor
    # Built and registered by subscribe; None before that and once forgotten, when nothing may be sent.
    outlet: Outlet | None = None
    # This client's place under MAX_SOCKETS_PER_USER in Redis, when the cap is counted there, and who gave it.
    lease: str | None = None
    _leases: SocketLeases | None = None

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Not WebSocketEndpoint's __init__, which insists on a WebSocket scope: an event stream makes the same client.
        self.scope, self.receive, self.send = scope, receive, send
        self.streaming = scope["type"] == "http"

    @abstractmethod
    async def choose_channels(self, connection: HTTPConnection) -> set[str]:
        """The channels this client gets, for `self.actor`; raises Rejected when it may not connect. Called once,
        before the client is registered: nothing is sent yet."""

    def greeting(self) -> dict[str, Any] | None:
        """What the client is sent first, ahead of any replayed or new event (None: nothing)."""
        return None

    async def on_attached(self, connection: HTTPConnection) -> None:  # noqa: B027 (a hook, empty by default)
        """Runs once the client is registered: a state sent now is never older than the events after it."""

    @final
    async def subscribe(self, connection: HTTPConnection) -> Outlet:
        """The client authenticated, authorized and registered with the hub, its greeting and a resume queued.
        Rejected when refused."""
        services = connection.state.services
        try:
            actor = company_bound(
                await socket_actor(services, connection.query_params.get("ticket"), bearer_token(connection))
            )
        except NotAuthenticated as refused:
            raise Rejected(CLOSE_BAD_TOKEN, str(refused.detail), 401) from None
        if actor is None:
            raise Rejected(CLOSE_NO_COMPANY)
        self.actor = actor
        hub = self.hub(connection)
        if not await self._take_place(connection, hub, actor):
            raise Rejected(CLOSE_TOO_MANY)
        try:
            outlet = Outlet(actor.company_id, await self.choose_channels(connection), self.max_queue(connection))
            outlet.user_id, outlet.token_version = actor.id, actor.token_version
            self.outlet = outlet
            greeting = self.greeting()
            if greeting is not None:
                self.reply(greeting)
        except BaseException:
            self.outlet = None
            await self._give_place_back()
            raise
        await hub.attach(outlet, resume_position(connection))
        try:
            # Checked once registered: a revocation committed from here on reaches the client as an event.
            await check_current(services.database, actor)
        except NotAuthenticated as refused:
            self.outlet = None
            await hub.detach(outlet)
            await self._give_place_back()
            raise Rejected(CLOSE_BAD_TOKEN, str(refused.detail), 401) from None
        except BaseException:
            await self.forget(hub, outlet)
            raise
        try:
            await self.on_attached(connection)
        except BaseException:
            await self.forget(hub, outlet)
            raise
        return outlet

    async def forget(self, hub: Hub, outlet: Outlet) -> None:
        """Unregistered, its sends stopped and its place given back: a client's end, however it comes."""
        self.outlet = None
        await outlet.stop()
        await hub.detach(outlet)
        await self._give_place_back()

    async def _take_place(self, connection: HTTPConnection, hub: Hub, actor: CompanyActor) -> bool:
        """Whether the user may hold one more socket or stream (MAX_SOCKETS_PER_USER): over every process when
        Redis keeps the leases, else (or while Redis does not answer) over this process's clients."""
        cap: int = connection.state.settings.max_sockets_per_user
        leases: SocketLeases | None = connection.state.leases
        if leases is not None:
            claim = await leases.claim(actor.id, cap)
            if claim.full:
                return False
            if claim.lease is not None:
                self._leases, self.lease = leases, claim.lease
                return True
        return hub.sockets_of(actor.id) < cap

    async def _give_place_back(self) -> None:
        lease, self.lease = self.lease, None
        if lease is not None and self._leases is not None:
            await self._leases.release(lease)

    def reply(self, message: dict[str, Any]) -> None:
        """Queue a reply behind the events already queued, so the client sees one ordered stream."""
        assert self.outlet is not None
        text = json.dumps(message, ensure_ascii=False)
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                # A lone surrogate cannot go out as UTF-8 and would stop the pump; escaped, it is valid JSON.
                text = json.dumps(message)
        self.outlet.push(text)

    def reply_error(self, text: str) -> None:
        self.reply({"error": text})

    @staticmethod
    def hub(connection: HTTPConnection) -> Hub:
        hub: Hub = connection.state.hub
        return hub

    @staticmethod
    def max_queue(connection: HTTPConnection) -> int:
        size: int = connection.state.settings.send_queue_size
        return size


class HubSocket(HubClient, WebSocketEndpoint):
    """A hub client served as a WebSocket: subscribed on connect (refused with a close code after accept),
    messages parsed, rate-limited and answered, the token refreshed in-band, everything undone on disconnect.

    Besides HubClient's `dialect` and `choose_channels`, a subclass must provide `on_message` (a JSON object
    that is not a refresh). It may override `token_refreshed`, and HubClient's `greeting`, `on_attached`,
    `reply_error` and `forget`.
    """

    # Text and binary frames both reach on_receive: a binary one is answered with the dialect's error, since a
    # bad message never closes a socket (Starlette's "text" encoding would close it with 1003).
    encoding = None
    # What a successful refresh_token / refresh-token is answered with, in the dialect's spelling.
    token_refreshed: ClassVar[str] = "token_refreshed"
    # Set on accept: SOCKET_RATE messages a second (SOCKET_BURST at once), beyond which the socket is closed.
    limiter: RateLimiter
    # With SOCKET_TOKEN_EXPIRY=close, the pending close at the access token's expiry.
    expiry: asyncio.TimerHandle | None = None
    # Whether cafe_rt_sockets counts this socket, so that on_disconnect takes back only what on_connect added.
    counted: bool = False

    async def on_connect(self, websocket: WebSocket) -> None:
        try:
            outlet = await self.subscribe(websocket)
        except Rejected as rejected:
            await self.reject(websocket, rejected.code)
            return
        hub = self.hub(websocket)
        try:
            await websocket.accept()
        except BaseException:
            # Starlette calls on_disconnect only after on_connect returned: unregister here, or the socket
            # would stay in the hub (and count against its user's cap) for the life of the process.
            await self.forget(hub, outlet)
            raise
        outlet.start(self._send_frame, websocket.close, hub.replay, self._frame_writer(websocket))
        SOCKETS.labels(self.dialect).inc()
        self.counted = True
        self.limiter = RateLimiter(websocket.state.settings.socket_rate, websocket.state.settings.socket_burst)
        self._expire_at(self.actor.expires_at)

    @staticmethod
    def _frame_writer(websocket: WebSocket) -> WriteFrame | None:
        writer = frame_writer_for(websocket.scope.get(RAW_SEND))
        return None if writer is None else writer.write

    def _send_frame(self, text: str) -> Awaitable[None]:
        """A text frame straight to the ASGI send: the one call made per socket per event, so it skips
        Starlette's WebSocket wrapper (its state checks matter only around accept and close)."""
        return self.send({"type": "websocket.send", "text": text})

    def _expire_at(self, expires_at: int) -> None:
        """With SOCKET_TOKEN_EXPIRY=close, close with 4003 when the access token expires, unless refreshed first."""
        if self.expiry is not None:
            self.expiry.cancel()
        # By default a socket is authenticated once, at connect: today's clients never refresh in-band.
        if self.scope["state"]["settings"].socket_token_expiry != "close":
            return
        # Called once the socket is attached (on connect, or on a message, which only an attached socket handles).
        assert self.outlet is not None, "expiry is set only on an attached socket"
        loop = asyncio.get_running_loop()
        self.expiry = loop.call_at(loop.time() + max(0.0, expires_at - time.time()), self.outlet.close, CLOSE_BAD_TOKEN)

    async def _refresh(self, websocket: WebSocket, message: dict[str, Any]) -> None:
        data = message.get("data")
        token = message.get("token") or (data.get("token") if isinstance(data, dict) else None)
        # A page of a cookie session holds no token: a fresh ticket stands for its new access cookie.
        ticket = message.get("ticket")
        services = websocket.state.services
        try:
            if isinstance(ticket, str) and ticket and not token:
                fresh = await redeem_ticket(services, ticket)
            else:
                fresh = actor_from_token(services.tokens, token if isinstance(token, str) else None)
            if fresh.id == self.actor.id:
                await check_current(services.database, fresh)
        except NotAuthenticated as refused:
            self.reply_error(str(refused.detail))
            return
        if fresh.id != self.actor.id:
            self.reply_error("The token belongs to another user.")
            return
        if not fits(fresh, self.actor):
            # The socket's channels were chosen for the token it was opened with.
            self.reply_error("The token does not fit this socket (role, branch or cities changed); reconnect.")
            return
        self._expire_at(fresh.expires_at)
        self.reply({"type": self.token_refreshed, "data": {"expires_at": fresh.expires_at}})

    async def on_receive(self, websocket: WebSocket, data: str | bytes) -> None:
        if self.outlet is None:
            return
        if not self.limiter.allow():
            self.outlet.close(CLOSE_TOO_MANY)
            return
        if isinstance(data, bytes):
            self.reply_error("Binary frames are not understood: send JSON as a text frame.")
            return
        try:
            message = parse_json(data)
        except ValueError as refused:
            self.reply_error(f"Invalid JSON: {refused}.")
            return
        if not isinstance(message, dict):
            self.reply_error("A message must be a JSON object.")
            return
        try:
            if message.get("action") == "refresh_token" or message.get("type") == "refresh-token":
                await self._refresh(websocket, message)
            else:
                await self.on_message(websocket, message)
        except Exception:
            # A fault of ours (the database went away) must not cost the client its socket.
            log.exception("socket action failed")
            self.reply_error("The server could not handle this message; try again.")

    @abstractmethod
    async def on_message(self, websocket: WebSocket, message: dict[str, Any]) -> None:
        """A JSON object from the client (not a token refresh), answered with `reply` or `reply_error`."""

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        if self.counted:
            SOCKETS.labels(self.dialect).dec()
        if self.expiry is not None:
            self.expiry.cancel()
        if self.outlet is not None:
            await self.forget(self.hub(websocket), self.outlet)
        # A refused socket has no outlet and has given its place back already: this only makes sure.
        await self._give_place_back()

    @staticmethod
    async def reject(websocket: WebSocket, code: int) -> None:
        await websocket.accept()
        await websocket.close(code=code)
