"""Revoking a user's tokens at once, and checking that a token has not been revoked.

Every token carries the user's `token_version` (claim `ver`). A revocation raises the stored version,
forgets the user's refresh tokens and, in the same change, emits one `user_revoked` event on the
channel `revoked_<user_id>`, which every process's hub hears through the broker and answers by
closing the user's open sockets (4003). REST requests and socket connects compare the token's version
with the stored one: one primary-key read. Open sockets are never checked per frame.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from core.auth import Actor, actor_from_token
from core.errors import NotAuthenticated
from storage.sql import Statements

if TYPE_CHECKING:
    from events.outbox import Change
    from events.services import Services

SELECT_STANDING = "SELECT token_version, is_active FROM users WHERE id = :id"
RAISE_VERSION = "UPDATE users SET token_version = token_version + 1 WHERE id = :id RETURNING token_version"
FORGET_REFRESH_TOKENS = "DELETE FROM refresh_tokens WHERE user_id = :user_id"
FORGET_TICKETS = "DELETE FROM ws_tickets WHERE user_id = :user_id"


def revoked_channel(user_id: str) -> str:
    return f"revoked_{user_id}"


async def check_current(db: Statements, actor: Actor) -> None:
    """Refuse (401) a token whose user is gone, deactivated, or revoked since the token was issued."""
    row = await db.fetch_one(SELECT_STANDING, {"id": actor.id})
    if row is None or not row["is_active"] or row["token_version"] != actor.token_version:
        raise NotAuthenticated("Token has been revoked.")


async def authenticate(services: Services, token: str | None) -> Actor:
    """The actor of a valid, unrevoked access token; 401 otherwise."""
    actor = actor_from_token(services.tokens, token)
    await check_current(services.database, actor)
    return actor


async def revoke(change: Change, user_id: str) -> None:
    """Revoke every token of the user within `change`: REST refuses them from the commit on, and the
    event closes the user's open sockets on every process."""
    raised = await change.db.fetch_one(RAISE_VERSION, {"id": user_id})
    assert raised is not None
    await change.db.execute(FORGET_REFRESH_TOKENS, {"user_id": user_id})
    await change.db.execute(FORGET_TICKETS, {"user_id": user_id})
    # The version lets a hub that hears of this late spare sockets opened with a newer token.
    revoked = {"type": "user_revoked", "user": user_id, "version": raised["token_version"]}
    await change.emit("user_revoked", [revoked_channel(user_id)], revoked)


@asynccontextmanager
async def revoking(services: Services, user_id: str, company_id: str | None) -> AsyncIterator[Statements]:
    """A write (yields the database to write with) that ends by revoking the user's tokens."""
    if company_id is None:
        # A user without a company can open no socket (4004), so there is no one to tell.
        async with services.database.transaction():
            yield services.database
            await services.database.execute(RAISE_VERSION, {"id": user_id})
            await services.database.execute(FORGET_REFRESH_TOKENS, {"user_id": user_id})
            await services.database.execute(FORGET_TICKETS, {"user_id": user_id})
        return
    async with services.change(company_id) as change:
        yield change.db
        await revoke(change, user_id)


async def revoke_user(services: Services, user_id: str, company_id: str | None) -> None:
    """Revoke every token of the user, and nothing else."""
    async with revoking(services, user_id, company_id):
        pass
