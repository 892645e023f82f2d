"""What every WebSocket dialect shares: the token, the close codes, the send pump, message parsing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from starlette.endpoints import WebSocketEndpoint
from starlette.websockets import WebSocket

from domain.auth import Actor, actor_from_token
from domain.errors import NotAuthenticated
from domain.validate import parse_json
from realtime.hub import Hub
from realtime.outlet import Outlet, Replay

log = logging.getLogger("cafe_rt.socket")
CLOSE_BAD_TOKEN = 4003
CLOSE_NO_COMPANY = 4004
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY = 1008


class RateLimiter:
    """A token bucket: `rate` messages a second on average, `burst` at once."""

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


class Rejected(Exception):
    """The connection is refused with a close code (sent after accept, so clients can read it)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def bearer_token(websocket: WebSocket) -> str | None:
    token = websocket.query_params.get("token")
    if token:
        return token
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def resume_position(websocket: WebSocket) -> int | None:
    value = websocket.query_params.get("last_event_id")
    # isdigit() alone lets "²" through, which int() refuses.
    if value is None or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


class HubSocket(WebSocketEndpoint):
    """A socket fed by the hub. Subclasses decide the channels (`open_outlet`) and answer actions."""

    encoding = "text"
    outlet: Outlet | None = None
    pump: asyncio.Task | None = None
    expiry: asyncio.TimerHandle | None = None
    # What a successful refresh_token / refresh-token is answered with, in the dialect's spelling.
    token_refreshed = "token_refreshed"

    async def on_connect(self, websocket: WebSocket) -> None:
        services = websocket.state.services
        try:
            actor = actor_from_token(services.tokens, bearer_token(websocket))
        except NotAuthenticated:
            await self.reject(websocket, CLOSE_BAD_TOKEN)
            return
        if actor.company_id is None:
            await self.reject(websocket, CLOSE_NO_COMPANY)
            return
        try:
            outlet = await self.open_outlet(websocket, actor)
        except Rejected as rejected:
            await self.reject(websocket, rejected.code)
            return
        self.actor = actor
        self.outlet = outlet
        await self.hub(websocket).attach(outlet, resume_position(websocket))
        await self.on_attached(websocket)
        await websocket.accept()
        self.pump = asyncio.create_task(self._pump(websocket, self.hub(websocket), outlet))
        self.limiter = RateLimiter(websocket.state.settings.socket_rate, websocket.state.settings.socket_burst)
        self._expire_at(actor.expires_at)

    def _expire_at(self, expires_at: int) -> None:
        """Close with 4003 when the access token expires, unless the client refreshes it first."""
        if self.expiry is not None:
            self.expiry.cancel()
        loop = asyncio.get_running_loop()
        self.expiry = loop.call_at(loop.time() + max(0.0, expires_at - time.time()), self.outlet.close, CLOSE_BAD_TOKEN)

    def _refresh(self, websocket: WebSocket, message: dict[str, Any]) -> None:
        data = message.get("data")
        token = message.get("token") or (data.get("token") if isinstance(data, dict) else None)
        try:
            fresh = actor_from_token(websocket.state.services.tokens, token if isinstance(token, str) else None)
        except NotAuthenticated as refused:
            self.reply_error(str(refused.detail))
            return
        if fresh.id != self.actor.id:
            self.reply_error("The token belongs to another user.")
            return
        self._expire_at(fresh.expires_at)
        self.reply({"type": self.token_refreshed, "data": {"expires_at": fresh.expires_at}})

    async def open_outlet(self, websocket: WebSocket, actor: Actor) -> Outlet:
        raise NotImplementedError

    async def on_attached(self, websocket: WebSocket) -> None:
        """Runs once the socket is registered: a state sent now is never older than the events after it."""

    async def on_receive(self, websocket: WebSocket, data: str) -> None:
        if self.outlet is None:
            return
        if not self.limiter.allow():
            self.outlet.close(CLOSE_TOO_MANY)
            return
        try:
            message = parse_json(data)
        except ValueError as refused:
            self.reply_error(f"Invalid JSON: {refused}.")
            return
        if not isinstance(message, dict):
            self.reply_error("A message must be a JSON object.")
            return
        if message.get("action") == "refresh_token" or message.get("type") == "refresh-token":
            self._refresh(websocket, message)
            return
        try:
            await self.on_message(websocket, message)
        except Exception:
            # A fault of ours (the database went away) must not cost the client its socket.
            log.exception("socket action failed")
            self.reply_error("The server could not handle this message; try again.")

    async def on_message(self, websocket: WebSocket, message: dict[str, Any]) -> None:
        raise NotImplementedError

    async def on_disconnect(self, websocket: WebSocket, close_code: int) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
        if self.pump is not None:
            self.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.pump
        if self.outlet is not None:
            await self.hub(websocket).detach(self.outlet)

    def reply(self, message: dict[str, Any]) -> None:
        """Queue a reply behind the events already queued, so the socket sees one ordered stream."""
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
    def hub(websocket: WebSocket) -> Hub:
        return websocket.state.hub

    @staticmethod
    def max_queue(websocket: WebSocket) -> int:
        return websocket.state.settings.send_queue_size

    @staticmethod
    async def reject(websocket: WebSocket, code: int) -> None:
        await websocket.accept()
        await websocket.close(code=code)

    @staticmethod
    async def _pump(websocket: WebSocket, hub: Hub, outlet: Outlet) -> None:
        try:
            while True:
                frame = await outlet.next_frame()
                if frame is None:
                    await websocket.close(code=outlet.closing_code or 1000)
                    return
                if isinstance(frame, Replay):
                    # Sent straight from the outbox: a long backlog waits on the client, not in the queue.
                    async with contextlib.aclosing(hub.replay(outlet, frame)) as texts:
                        async for text in texts:
                            if outlet.closing_code is not None:
                                break
                            await websocket.send_text(text)
                else:
                    await websocket.send_text(frame)
        except asyncio.CancelledError:
            raise
        except Exception:
            return
