"""The bonus program: customers earn a share of what they pay and spend it on later orders."""

from __future__ import annotations

from core.auth import Actor
from core.errors import Conflict
from core.values import format_cents, new_id, utc_now
from domain.access import require_company
from events import announce
from events.outbox import Change
from events.services import Services
from storage.sql import Statements, one

SELECT_ACCOUNT = "SELECT balance_cents FROM bonus_accounts WHERE user_id = :user_id"
INSERT_ACCOUNT = """
INSERT INTO bonus_accounts (user_id, company_id, balance_cents, updated_at) VALUES (:user_id, :company_id, 0, :now)
"""
# The balance condition is the last guard: a spend that would go below zero matches no row.
SPEND = """
UPDATE bonus_accounts SET balance_cents = balance_cents - :amount, updated_at = :now
WHERE user_id = :user_id AND balance_cents >= :amount
RETURNING balance_cents
"""
EARN = """
UPDATE bonus_accounts SET balance_cents = balance_cents + :amount, updated_at = :now WHERE user_id = :user_id
RETURNING balance_cents
"""
INSERT_OPERATION = """
INSERT INTO bonus_operations (id, company_id, user_id, order_id, type, amount_cents, balance_after_cents, created_at)
VALUES (:id, :company_id, :user_id, :order_id, :type, :amount_cents, :balance_after_cents, :created_at)
"""
SELECT_OPERATIONS = """
SELECT * FROM bonus_operations WHERE user_id = :user_id ORDER BY created_at DESC LIMIT 200
"""


async def balance_of(db: Statements, user_id: str) -> int:
    row = await db.fetch_one(SELECT_ACCOUNT, {"user_id": user_id})
    return row["balance_cents"] if row else 0


async def _ensure_account(change: Change, user_id: str) -> None:
    if await change.db.fetch_one(SELECT_ACCOUNT, {"user_id": user_id}) is None:
        await change.db.execute(INSERT_ACCOUNT, {"user_id": user_id, "company_id": change.company_id, "now": utc_now()})


async def _record(change: Change, user_id: str, order_id: str, kind: str, amount: int, balance: int) -> None:
    await change.db.execute(
        INSERT_OPERATION,
        {
            "id": new_id(),
            "company_id": change.company_id,
            "user_id": user_id,
            "order_id": order_id,
            "type": kind,
            "amount_cents": amount,
            "balance_after_cents": balance,
            "created_at": utc_now(),
        },
    )
    await announce.bonus_updated(change, user_id, balance, kind, amount, order_id)


async def spend(change: Change, user_id: str, order_id: str, amount: int) -> None:
    await _ensure_account(change, user_id)
    row = await change.db.fetch_one(SPEND, {"user_id": user_id, "amount": amount, "now": utc_now()})
    if row is None:
        balance = await balance_of(change.db, user_id)
        raise Conflict({"bonuses_used": [f"Only {format_cents(balance)} bonuses are available."]})
    await _record(change, user_id, order_id, "used", amount, row["balance_cents"])


async def earn(change: Change, user_id: str, order_id: str, amount: int) -> None:
    if amount <= 0:
        return
    await _ensure_account(change, user_id)
    row = one(await change.db.fetch_one(EARN, {"user_id": user_id, "amount": amount, "now": utc_now()}))
    await _record(change, user_id, order_id, "earned", amount, row["balance_cents"])


async def my_bonuses(services: Services, actor: Actor) -> dict[str, object]:
    actor = require_company(actor)
    db = services.database
    operations = await db.fetch_all(SELECT_OPERATIONS, {"user_id": actor.id})
    return {
        "balance": format_cents(await balance_of(db, actor.id)),
        "operations": [
            {
                "type": row["type"],
                "amount": format_cents(row["amount_cents"]),
                "balance_after": format_cents(row["balance_after_cents"]),
                "order": row["order_id"],
                "created_at": row["created_at"],
            }
            for row in operations
        ],
    }
