"""`Idempotency-Key` on every POST, PATCH, PUT and DELETE under /api/ (DESIGN.md, "Safe to retry").

An ASGI middleware in the request's own task: it claims the key, runs the operation with its writes held
in one transaction (`storage/sql.holding`), and writes the answer on that transaction before the COMMIT,
so the answer and the change commit together; only then does the answer go out. A retry gets the
stored answer with `Idempotent-Replayed: true`.

Scope is (user, method, path, key). A request without a valid access token (log in, refresh, log out
by refresh token) is not scoped to anyone: the key is checked for form and otherwise ignored, and such
an operation is safe to repeat as it is (a second login is another token pair).
"""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.auth import bearer_value
from core.errors import NotAuthenticated
from domain.revocation import authenticate
from events.services import Services
from front_door.outages import outage, unavailable
from front_door.requests import ACTOR_KEY, MAX_BODY_BYTES
from storage import idempotency
from storage.idempotency import Claimed, Mismatch, Running, Stored
from storage.sql import Session, holding

log = logging.getLogger("cafe_rt.idempotency")
WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})
REPLAYED = "Idempotent-Replayed"
BAD_KEY = "Idempotency-Key must be 1-255 visible ASCII characters."
OTHER_BODY = "This Idempotency-Key was used with another request body."
RUNNING = "A request with this Idempotency-Key is still running; try again."
LOST_CLAIM = "This Idempotency-Key was taken over by another request; try again."


class Idempotency:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WRITES or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not idempotency.valid_key(key):
            await JSONResponse({"detail": BAD_KEY}, status_code=400)(scope, receive, send)
            return
        services: Services = scope["state"]["services"]
        try:
            actor = await authenticate(services, bearer_value(headers.get("authorization", "")))
        except NotAuthenticated:
            await self.app(scope, receive, send)  # the operation answers for itself: 401, or it needs no user
            return
        except Exception as error:
            await self._outage(error, scope, receive, send)
            return
        scope[ACTOR_KEY] = actor
        body, whole = await _read(receive)
        replay = _replaying(body, receive)
        if not whole:  # over the limit: the operation answers 413, and there is nothing to keep
            await self.app(scope, replay, send)
            return
        where = idempotency.Scope(actor.id, scope["method"], scope["path"], key)
        try:
            outcome = await idempotency.claim(
                services.database,
                where,
                idempotency.fingerprint(body, scope.get("query_string", b"")),
                services.settings.idempotency_ttl,
            )
        except Exception as error:
            await self._outage(error, scope, receive, send)
            return
        if isinstance(outcome, Stored):
            await _stored(outcome)(scope, receive, send)
        elif isinstance(outcome, Mismatch):
            await JSONResponse({"detail": OTHER_BODY}, status_code=422)(scope, receive, send)
        elif isinstance(outcome, Running):
            await JSONResponse({"detail": RUNNING}, status_code=409, headers={"Retry-After": "1"})(scope, receive, send)
        else:
            await self._first(services, where, outcome, scope, replay, send)

    async def _first(
        self, services: Services, where: idempotency.Scope, claimed: Claimed, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the operation; commit its writes with its answer (a 2xx-4xx), or roll them back (a 5xx)."""
        held_messages: list[Message] = []

        async def hold(message: Message) -> None:
            held_messages.append(message)

        answer: Response | None = None
        try:
            async with holding(services.database) as held:
                await self.app(scope, receive, hold)
                status, content = _answer(held_messages)
                text = content.decode() if content else None

                async def keep(session: Session) -> None:
                    if not await idempotency.store(session, where, claimed.claim, status, text):
                        raise LostClaim

                wrote = held.open
                if status < 500 and wrote:
                    await held.finish(commit=True, last=keep)
            # Nothing was written (a 4xx from the checks, say): the answer is kept on its own.
            if (
                status < 500
                and not wrote
                and not await idempotency.store(services.database, where, claimed.claim, status, text)
            ):
                raise LostClaim
            if status < 500:
                claimed = Claimed("")  # answered: nothing to let go of
        except LostClaim:
            answer = JSONResponse({"detail": LOST_CLAIM}, status_code=409, headers={"Retry-After": "1"})
        except Exception as error:
            detail = outage(error)
            if detail is None:
                raise
            answer = unavailable(detail)
        finally:
            if claimed.claim:
                await self._let_go(services, where, claimed)
        if answer is not None:
            await answer(scope, receive, send)
            return
        for message in held_messages:
            await send(message)

    @staticmethod
    async def _let_go(services: Services, where: idempotency.Scope, claimed: Claimed) -> None:
        """A 5xx or a failure stores nothing: the retry runs again (or once CLAIM_LEASE is over, if this fails)."""
        if not claimed.claim:
            return
        try:
            await idempotency.release(services.database, where, claimed.claim)
        except Exception:
            log.warning("could not let go of an idempotency key; it goes stale after its lease", exc_info=True)

    @staticmethod
    async def _outage(error: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        detail = outage(error)
        if detail is None:
            raise error
        await unavailable(detail)(scope, receive, send)


class LostClaim(Exception):
    """The claim went stale and another request took the key: this one's writes are rolled back."""


async def _read(receive: Receive) -> tuple[bytes, bool]:
    """The request body, up to MAX_BODY_BYTES; (what was read, whether that is all of it)."""
    raw = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(raw), False  # gone: the operation sees the disconnect
        raw += message.get("body", b"")
        if len(raw) > MAX_BODY_BYTES:
            return bytes(raw), False
        if not message.get("more_body", False):
            return bytes(raw), True


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the operation the body read here, then whatever else the client sends."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _answer(messages: list[Message]) -> tuple[int, bytes]:
    status = next((message["status"] for message in messages if message["type"] == "http.response.start"), 500)
    content = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return status, content


def _stored(stored: Stored) -> Response:
    headers = {REPLAYED: "true"}
    if stored.body is None:
        return Response(status_code=stored.status, headers=headers)
    return Response(stored.body, status_code=stored.status, media_type="application/json", headers=headers)
