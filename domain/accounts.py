"""Companies, branches, users and logging in."""

from __future__ import annotations

import asyncio
from typing import cast

from core.auth import ROLES, Actor, Claims, decode_token, hash_password, issue_tokens, verify_password
from core.errors import Conflict, Forbidden, Invalid, NotAuthenticated, NotFound
from core.shapes import BranchJSON, CreatedCompany, UserJSON, UserRow
from core.values import new_id, utc_now
from domain import throttle
from domain.access import MANAGERS, company_branch, require_company, require_role
from domain.revocation import revoke_user
from domain.validate import MAX_INT, Body, is_email, is_uuid, whole_numbers
from events import outbox
from events.services import Services
from storage import refresh_tokens as tokens
from storage.sql import Row, Statements, one

INSERT_COMPANY = "INSERT INTO companies (id, name, created_at) VALUES (:id, :name, :created_at)"
INSERT_BRANCH = """
INSERT INTO branches (id, company_id, name, city_id, created_at) VALUES (:id, :company_id, :name, :city_id, :created_at)
"""
SELECT_BRANCHES = (
    "SELECT id, company_id, name, city_id, created_at FROM branches WHERE company_id = :company_id ORDER BY created_at"
)
INSERT_USER = """
INSERT INTO users (id, email, password_hash, role, company_id, branch_id, created_at)
VALUES (:id, :email, :password_hash, :role, :company_id, :branch_id, :created_at)
"""
INSERT_USER_CITY = "INSERT INTO user_cities (user_id, city_id) VALUES (:user_id, :city_id)"
SELECT_USER_BY_EMAIL = "SELECT * FROM users WHERE email = :email"
SELECT_USER = "SELECT * FROM users WHERE id = :id"
SELECT_USERS = "SELECT * FROM users WHERE company_id = :company_id ORDER BY created_at"
# A manager's view: its branch's staff, and the customers who placed an order in its branch.
SELECT_BRANCH_USERS = """
SELECT * FROM users u
WHERE u.company_id = :company_id
  AND ((u.role <> 'client' AND u.branch_id = :branch_id)
       OR (u.role = 'client'
           AND EXISTS (SELECT 1 FROM orders o WHERE o.created_by = u.id AND o.branch_id = :branch_id)))
ORDER BY u.created_at
"""
SELECT_USER_CITIES = "SELECT city_id FROM user_cities WHERE user_id = :user_id ORDER BY city_id"

# Spent on unknown emails too, so a login's timing does not tell which emails exist.
DUMMY_HASH = hash_password("not a real password")
BRANCH_BOUND_ROLES = ("manager", "waiter", "cook", "cashier")
MIN_PASSWORD = 8
MAX_PASSWORD = 128


def branch_json(row: Row) -> BranchJSON:
    return {"id": row["id"], "name": row["name"], "city_id": row["city_id"], "company": row["company_id"]}


async def user_json(db: Statements, row: UserRow) -> UserJSON:
    cities = await db.fetch_all(SELECT_USER_CITIES, {"user_id": row["id"]})
    return {
        "id": row["id"],
        "email": row["email"],
        "role": row["role"],
        "company": row["company_id"],
        "branch": row["branch_id"],
        "city_ids": [city["city_id"] for city in cities],
        "is_active": bool(row["is_active"]),
        "created_at": row["created_at"],
    }


def normalize_email(email: str) -> str:
    return email.strip().lower()


def new_password(body: Body, field: str) -> str | None:
    """A password field of a new account or a password change, under the one rule both follow."""
    password = body.text(field, max_length=MAX_PASSWORD)
    if password and len(password) < MIN_PASSWORD:
        body.fail(field, f"At least {MIN_PASSWORD} characters.")
    return password


async def _insert_user(
    db: Statements,
    *,
    email: str,
    password_hash: str,
    role: str,
    company_id: str | None,
    branch_id: str | None,
    city_ids: list[int],
) -> str:
    """Insert a user whose password was hashed before the transaction (scrypt must not hold the writer)."""
    if await db.fetch_one(SELECT_USER_BY_EMAIL, {"email": email}) is not None:
        raise Conflict({"email": ["A user with this email already exists."]})
    user_id = new_id()
    await db.execute(
        INSERT_USER,
        {
            "id": user_id,
            "email": email,
            "password_hash": password_hash,
            "role": role,
            "company_id": company_id,
            "branch_id": branch_id,
            "created_at": utc_now(),
        },
    )
    for city_id in sorted(set(city_ids)):
        await db.execute(INSERT_USER_CITY, {"user_id": user_id, "city_id": city_id})
    return user_id


async def create_company(services: Services, name: str, owner_email: str, owner_password: str) -> CreatedCompany:
    """The management command's job: a company and its owner (no branch yet)."""
    if not is_email(normalize_email(owner_email)):
        raise Invalid({"email": ["Enter a valid email address."]})
    db = services.database
    company_id = new_id()
    password_hash = await asyncio.to_thread(hash_password, owner_password)
    async with db.transaction():
        await db.execute(INSERT_COMPANY, {"id": company_id, "name": name, "created_at": utc_now()})
        await outbox.create_counter(db, company_id)
        owner_id = await _insert_user(
            db,
            email=normalize_email(owner_email),
            password_hash=password_hash,
            role="owner",
            company_id=company_id,
            branch_id=None,
            city_ids=[],
        )
    return {"company_id": company_id, "owner_id": owner_id, "owner_email": normalize_email(owner_email)}


async def create_branch(services: Services, actor: Actor, data: object) -> BranchJSON:
    actor = require_role(actor, ("owner", "admin"))
    body = Body(data, {"name", "city_id"})
    name = body.text("name")
    city_id = body.integer("city_id", low=1)
    body.check()
    branch: Row = {
        "id": new_id(),
        "company_id": actor.company_id,
        "name": name,
        "city_id": city_id,
        "created_at": utc_now(),
    }
    await services.database.execute(INSERT_BRANCH, branch)
    return branch_json(branch)


async def list_branches(services: Services, actor: Actor) -> list[BranchJSON]:
    rows = await services.database.fetch_all(SELECT_BRANCHES, {"company_id": require_company(actor).company_id})
    return [branch_json(row) for row in rows]


async def create_user(services: Services, actor: Actor, data: object) -> UserJSON:
    actor = require_role(actor, ("owner", "admin"))
    db = services.database
    body = Body(data, {"email", "password", "role", "branch", "city_ids"})
    email = body.text("email", max_length=254)
    password = new_password(body, "password")
    role = body.choice("role", ROLES)
    branch_id = body.ident("branch", required=False)
    city_entries = body.items("city_ids", required=False)
    if email and not is_email(normalize_email(email)):
        body.fail("email", "Enter a valid email address.")
    cities = whole_numbers(city_entries, 1)
    if cities is None:
        body.fail("city_ids", f"Must be a list of integers from 1 to {MAX_INT}.")
    city_ids = cities or []
    if role in BRANCH_BOUND_ROLES and branch_id is None and "branch" not in body.errors:
        # A null branch would let the role read every branch, as only owners and admins may.
        body.fail("branch", f"A {role} works in one branch: give its id.")
    body.check()
    assert email is not None and password is not None and role is not None  # required: check() refused their absence
    if role == "owner" and actor.role != "owner":
        raise Forbidden("Only an owner can add an owner.")
    branch = await company_branch(db, actor, branch_id) if branch_id else None
    if role == "manager" and not city_ids and branch:
        city_ids = [branch["city_id"]]
    password_hash = await asyncio.to_thread(hash_password, password)
    async with db.transaction():
        user_id = await _insert_user(
            db,
            email=normalize_email(email),
            password_hash=password_hash,
            role=role,
            company_id=actor.company_id,
            branch_id=branch_id,
            city_ids=city_ids,
        )
    return await user_json(db, cast(UserRow, one(await db.fetch_one(SELECT_USER, {"id": user_id}))))


async def watchable_waiter(db: Statements, actor: Actor, user_id: object) -> Row:
    """A staff member whose notifications the actor may follow: itself, or as its owner/admin/manager."""
    row = await db.fetch_one(SELECT_USER, {"id": user_id}) if is_uuid(user_id) else None
    if row is None or row["company_id"] != actor.company_id or row["role"] == "client":
        raise NotFound("Waiter not found.")
    if not (
        row["id"] == actor.id or actor.company_wide or (actor.role == "manager" and row["branch_id"] == actor.branch_id)
    ):
        raise NotFound("Waiter not found.")
    return dict(row)


async def list_users(services: Services, actor: Actor) -> list[UserJSON]:
    """Owners and admins: every user of the company; a manager: its branch's staff and customers."""
    actor = require_role(actor, MANAGERS)
    db = services.database
    if actor.company_wide:
        rows = await db.fetch_all(SELECT_USERS, {"company_id": actor.company_id})
    else:
        rows = await db.fetch_all(SELECT_BRANCH_USERS, {"company_id": actor.company_id, "branch_id": actor.branch_id})
    return [await user_json(db, row) for row in cast(list[UserRow], rows)]


async def login(services: Services, data: object, address: str | None = None) -> dict[str, str]:
    body = Body(data, {"email", "password"})
    email = body.text("email", max_length=254)
    password = body.text("password", max_length=128)
    body.check()
    assert email is not None and password is not None  # required: check() refused their absence
    async with throttle.login_attempt(services, normalize_email(email), address):
        row = cast(
            "UserRow | None",
            await services.database.fetch_one(SELECT_USER_BY_EMAIL, {"email": normalize_email(email)}),
        )
        stored = row["password_hash"] if row is not None else DUMMY_HASH
        if not await asyncio.to_thread(verify_password, password, stored) or row is None:
            raise NotAuthenticated("No active account found with the given credentials.")
    return await start_session(services, row)


async def start_session(services: Services, row: UserRow) -> dict[str, str]:
    """Tokens for a user who has just proved who it is; the refresh token is remembered by its jti."""
    if not row["is_active"]:
        raise NotAuthenticated("No active account found with the given credentials.")
    db = services.database
    user = await user_json(db, row)
    async with db.transaction():
        jti = await tokens.remember(db, row["id"], services.tokens.refresh_ttl)
    return issue_tokens(services.tokens, user, row["token_version"], jti)


def presented_refresh(data: object, cookie: str | None, *, by_cookie: bool = False) -> str:
    """The refresh token of a `{refresh}` body, else (where `by_cookie`: the browser session's routes) of the
    refresh cookie."""
    body = Body({} if data is None else data, {"refresh"})
    token = body.text("refresh", max_length=4096, required=not by_cookie)
    if by_cookie and token is None and cookie is None:
        body.fail("refresh", "Send the refresh token as {refresh}, or the refresh_token cookie.")
    body.check()
    token = token or cookie
    assert token is not None  # required without a cookie: check() refused its absence
    return token


async def _refresh_claims(services: Services, token: str) -> tuple[Claims, UserRow]:
    """The claims of a refresh token whose user is active and has not been revoked since, and the user's row."""
    claims = decode_token(services.tokens, token, kind="refresh")
    row = cast("UserRow | None", await services.database.fetch_one(SELECT_USER, {"id": claims["sub"]}))
    if row is None or not row["is_active"] or row["token_version"] != claims["ver"]:
        raise NotAuthenticated("Token has been revoked.")
    return claims, row


async def refresh(services: Services, token: str) -> dict[str, str]:
    """Rotate: a new access and refresh token; the presented refresh token is used up. Presented again
    within `refresh_reuse_grace` seconds it answers the same new pair; later, every token of the user is revoked."""
    claims, row = await _refresh_claims(services, token)
    jti = claims.get("jti")
    if not isinstance(jti, str):
        raise NotAuthenticated("This refresh token cannot be rotated; log in again.")
    db = services.database
    user = await user_json(db, row)
    async with db.transaction():
        rotation = await tokens.rotate(
            db, jti, row["id"], services.tokens.refresh_ttl, services.settings.refresh_reuse_grace
        )
    if rotation.use is tokens.Use.REPLAYED:
        # Whoever rotated it first holds a live token now, and it may not be the user: revoke them all.
        await revoke_user(services, row["id"], row["company_id"])
        raise NotAuthenticated("This refresh token was already used; every session of this account is signed out.")
    if rotation.jti is None:
        raise NotAuthenticated("Token has been revoked.")
    return issue_tokens(services.tokens, user, row["token_version"], rotation.jti, rotation.issued_at)


async def logout(services: Services, token: str) -> None:
    """Log out everywhere: every token of the refresh token's user is revoked. A rotated refresh token is
    refused: only the newest of a session may end it."""
    claims, row = await _refresh_claims(services, token)
    jti = claims.get("jti")
    if isinstance(jti, str) and not await tokens.is_current(services.database, jti, row["id"]):
        raise NotAuthenticated("This refresh token was already rotated or revoked.")
    await revoke_user(services, row["id"], row["company_id"])


async def me(services: Services, actor: Actor) -> UserJSON:
    row = cast("UserRow | None", await services.database.fetch_one(SELECT_USER, {"id": actor.id}))
    if row is None:
        raise NotFound("User not found.")
    return await user_json(services.database, row)
