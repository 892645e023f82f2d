"""Single-use socket tickets: `POST /api/auth/ws-ticket`, then `?ticket=` on any socket instead of `?token=`.

A ticket stands for the access token that asked for it: its claims are kept, so the socket is the
same user with the same token expiry. It lives `WS_TICKET_TTL` seconds and is stored in the
database, so any process can redeem it; redeeming is one `DELETE ... RETURNING`, so of two sockets
racing for one ticket exactly one wins.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time

from core.auth import Actor, actor_from_claims, actor_from_token, decode_token
from core.errors import NotAuthenticated
from core.values import utc_later, utc_now
from events.services import Services

INSERT_TICKET = """
INSERT INTO ws_tickets (ticket_hash, user_id, claims, expires_at)
VALUES (:ticket_hash, :user_id, :claims, :expires_at)
"""
DELETE_EXPIRED = "DELETE FROM ws_tickets WHERE expires_at < :now"
REDEEM_TICKET = "DELETE FROM ws_tickets WHERE ticket_hash = :ticket_hash RETURNING claims, expires_at"
MAX_TICKET_LENGTH = 100


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


async def issue_ticket(services: Services, token: str | None) -> dict[str, object]:
    """A new ticket for the (already authenticated) access token: `{ticket, expires_in}`."""
    claims = decode_token(services.tokens, token)
    ticket = secrets.token_urlsafe(32)
    row = {
        "ticket_hash": _hash(ticket),
        "user_id": claims["sub"],
        "claims": json.dumps(claims),
        "expires_at": utc_later(services.settings.ws_ticket_ttl),
    }
    await services.database.execute(DELETE_EXPIRED, {"now": utc_now()})
    await services.database.execute(INSERT_TICKET, row)
    return {"ticket": ticket, "expires_in": services.settings.ws_ticket_ttl}


async def redeem_ticket(services: Services, ticket: str) -> Actor:
    """The user a ticket was issued to; the ticket is gone afterwards, whatever the outcome."""
    if len(ticket) > MAX_TICKET_LENGTH:
        raise NotAuthenticated("The ticket is invalid.")
    row = await services.database.fetch_one(REDEEM_TICKET, {"ticket_hash": _hash(ticket)})
    if row is None:
        raise NotAuthenticated("The ticket is invalid or was already used.")
    if row["expires_at"] < utc_now():
        raise NotAuthenticated("The ticket has expired.")
    claims = json.loads(row["claims"])
    if claims["exp"] <= time.time():
        raise NotAuthenticated("Token has expired.")
    return actor_from_claims(claims)


async def socket_actor(services: Services, ticket: str | None, token: str | None) -> Actor:
    """Who opens a socket: by its `?ticket=` when it has one, else by its access token."""
    if ticket:
        return await redeem_ticket(services, ticket)
    return actor_from_token(services.tokens, token)
