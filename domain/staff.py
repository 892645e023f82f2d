"""Changes to an account that revoke its tokens at once: a new password, a new role, branch or cities, deactivation."""

from __future__ import annotations

import asyncio
from typing import cast

from core.auth import ROLES, Actor, hash_password, verify_password
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.shapes import UserJSON, UserRow
from domain import throttle
from domain.access import company_branch, require_role
from domain.accounts import (
    BRANCH_BOUND_ROLES,
    MAX_PASSWORD,
    SELECT_USER,
    SELECT_USER_CITIES,
    new_password,
    normalize_email,
    start_session,
    user_json,
)
from domain.revocation import revoke, revoking
from domain.validate import MAX_INT, Body, is_uuid, whole_numbers
from events.services import Services
from storage.sql import one

UPDATE_PASSWORD = "UPDATE users SET password_hash = :password_hash WHERE id = :id"
SELECT_COMPANY_USER = "SELECT * FROM users WHERE id = :id AND company_id = :company_id"
UPDATE_STANDING = "UPDATE users SET role = :role, branch_id = :branch_id, is_active = :is_active WHERE id = :id"
DELETE_USER_CITIES = "DELETE FROM user_cities WHERE user_id = :user_id"
INSERT_USER_CITY = "INSERT INTO user_cities (user_id, city_id) VALUES (:user_id, :city_id)"
COUNT_OTHER_OWNERS = """
SELECT COUNT(*) AS owners FROM users
WHERE company_id = :company_id AND role = 'owner' AND is_active = 1 AND id <> :id
"""


class WrongOldPassword(Exception):
    """A password change's old password was wrong: a failed attempt for the login throttle."""


async def change_password(services: Services, actor: Actor, data: object, address: str | None = None) -> dict[str, str]:
    """The user's own password; every token it had is revoked, and the caller gets new ones.

    The old password is checked under the login throttle (per account and per address, 429 like a login):
    a stolen access token must not become a way to guess the password."""
    body = Body(data, {"old_password", "new_password"})
    old = body.text("old_password", max_length=MAX_PASSWORD)
    new = new_password(body, "new_password")
    body.check()
    assert old is not None and new is not None
    db = services.database
    row = await db.fetch_one(SELECT_USER, {"id": actor.id})
    if row is None:
        raise NotFound("User not found.")
    try:
        async with throttle.login_attempt(services, normalize_email(row["email"]), address, failure=WrongOldPassword):
            if not await asyncio.to_thread(verify_password, old, row["password_hash"]):
                raise WrongOldPassword
    except WrongOldPassword:
        raise Invalid({"old_password": ["Wrong password."]}) from None
    password_hash = await asyncio.to_thread(hash_password, new)
    async with revoking(services, actor.id, actor.company_id) as writer:
        await writer.execute(UPDATE_PASSWORD, {"id": actor.id, "password_hash": password_hash})
    return await start_session(services, cast(UserRow, one(await db.fetch_one(SELECT_USER, {"id": actor.id}))))


async def update_user(services: Services, actor: Actor, user_id: object, data: object) -> UserJSON:
    """An owner or admin changes a user of its company; any real change revokes that user's tokens.

    Admins cannot change owners nor make one; no change may leave the company without an active owner.
    """
    actor = require_role(actor, ("owner", "admin"))
    company_id = actor.company_id
    body = Body(data, {"role", "branch", "city_ids", "is_active"})
    role = body.choice("role", ROLES, required=False)
    branch_id = body.ident("branch", required=False)
    city_entries = body.items("city_ids", required=False)
    is_active = body.boolean("is_active", default=True)
    cities = whole_numbers(city_entries, 1)
    if cities is None:
        body.fail("city_ids", f"Must be a list of integers from 1 to {MAX_INT}.")
    city_ids = cities or []
    body.check()
    if not is_uuid(user_id):
        raise NotFound("User not found.")
    if role == "owner" and actor.role != "owner":
        raise Forbidden("Only an owner can make an owner.")
    branch = await company_branch(services.database, actor, branch_id) if branch_id else None
    async with services.change(company_id) as change:
        db = change.db
        row = await db.fetch_one(SELECT_COMPANY_USER, {"id": user_id, "company_id": company_id})
        if row is None:
            raise NotFound("User not found.")
        if row["role"] == "owner" and actor.role != "owner":
            raise Forbidden("Only an owner can change an owner.")
        cities = [city["city_id"] for city in await db.fetch_all(SELECT_USER_CITIES, {"user_id": row["id"]})]
        before = (row["role"], row["branch_id"], bool(row["is_active"]), cities)
        new_role = role or row["role"]
        new_branch = branch_id if body.has("branch") else row["branch_id"]
        new_active = is_active if body.has("is_active") else bool(row["is_active"])
        new_cities = sorted(set(city_ids)) if body.has("city_ids") else cities
        if new_role in BRANCH_BOUND_ROLES and new_branch is None:
            raise Invalid({"branch": ["This field is required for this role."]})
        if new_role == "manager" and not new_cities and new_branch is not None:
            home = branch or await company_branch(db, actor, new_branch)
            new_cities = [home["city_id"]]
        after = (new_role, new_branch, new_active, new_cities)
        if after != before:
            if row["role"] == "owner" and row["is_active"] and (new_role != "owner" or not new_active):
                others = await db.fetch_one(COUNT_OTHER_OWNERS, {"company_id": company_id, "id": row["id"]})
                if others is None or not others["owners"]:
                    raise Conflict("The company must keep at least one active owner.")
            standing = {"id": row["id"], "role": new_role, "branch_id": new_branch, "is_active": int(new_active)}
            await db.execute(UPDATE_STANDING, standing)
            if new_cities != cities:
                await db.execute(DELETE_USER_CITIES, {"user_id": row["id"]})
                for city_id in new_cities:
                    await db.execute(INSERT_USER_CITY, {"user_id": row["id"], "city_id": city_id})
            await revoke(change, row["id"])
        updated = await user_json(db, cast(UserRow, one(await db.fetch_one(SELECT_USER, {"id": row["id"]}))))
    return updated
