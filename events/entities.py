"""Channels and payloads of the entity sockets (seed 003): one place for their exact shapes."""

from __future__ import annotations

from collections.abc import Mapping

from core.shapes import OrderJSON, OrderStatusJSON, SessionJSON, SessionRow, TableStateJSON
from storage.sql import Statements, one

ORDER_STATUS_DISPLAY = {
    "open": "Open",
    "pending": "Pending",
    "confirmed": "Confirmed",
    "preparing": "Preparing",
    "ready": "Ready",
    "delivered": "Delivered",
    "closed": "Closed",
    "cancelled": "Cancelled",
}

SELECT_TABLE_STATE = """
SELECT t.id, t.number, t.status, t.branch_id, z.title AS zone_title, b.name AS branch_name
FROM cafe_tables t JOIN branches b ON b.id = t.branch_id LEFT JOIN zones z ON z.id = t.zone_id
WHERE t.id = :id
"""
SELECT_OPEN_SESSION = """
SELECT * FROM table_sessions WHERE table_id = :table_id AND closed_at IS NULL ORDER BY opened_at DESC LIMIT 1
"""


def order_channel(company_id: str, order_id: str) -> str:
    return f"order_{company_id}_{order_id}"


def order_items_channel(company_id: str, order_id: str) -> str:
    return f"order_items_{company_id}_{order_id}"


def table_channel(company_id: str, table_id: str) -> str:
    return f"table_{company_id}_{table_id}"


def session_channel(company_id: str, session_id: str) -> str:
    return f"table_session_{company_id}_{session_id}"


def waiter_channel(company_id: str, user_id: str) -> str:
    return f"waiter_{company_id}_{user_id}"


def restaurant_channel(company_id: str, branch_id: str) -> str:
    return f"restaurant_{company_id}_{branch_id}"


def restaurant_notifications_channel(company_id: str, branch_id: str) -> str:
    return f"restaurant_notifications_{company_id}_{branch_id}"


def message(event_type: str, data: Mapping[str, object]) -> dict[str, object]:
    return {"type": event_type, "data": data}


def items_count(order: OrderJSON) -> int:
    return sum(item["quantity"] for item in order["items"])


def order_status_data(order: OrderJSON) -> OrderStatusJSON:
    """The seed's order_status example, field for field."""
    return {
        "id": order["id"],
        "status": order["status"],
        "status_display": ORDER_STATUS_DISPLAY[order["status"]],
        "total_amount": order["total_amount"],
        "items_count": items_count(order),
        "created_at": order["created_at"],
        "confirmed_at": order["confirmed_at"],
        "ready_at": order["ready_at"],
        "delivered_at": order["delivered_at"],
        # Beyond the seed: a void or comp says who, when and why on the order's own status message too.
        "void": order["void"],
    }


def items_data(order: OrderJSON) -> dict[str, object]:
    return {"order_id": order["id"], "items": order["items"], "total_amount": order["total_amount"]}


def session_data(row: SessionRow, table_number: int) -> SessionJSON:
    return {
        "id": row["id"],
        "table_id": row["table_id"],
        "table_number": str(table_number),
        "session_code": row["session_code"],
        "guests_count": row["guests_count"],
        "started_at": row["opened_at"],
        "closed_at": row["closed_at"],
        "is_active": row["closed_at"] is None,
    }


async def table_data(db: Statements, table_id: str) -> TableStateJSON:
    """The seed's table_update example: occupancy, zone and restaurant names, the open session.

    Of a table already read or written (tables are never deleted)."""
    table = one(await db.fetch_one(SELECT_TABLE_STATE, {"id": table_id}))
    session = await db.fetch_one(SELECT_OPEN_SESSION, {"table_id": table_id})
    return {
        "table_id": table["id"],
        "table_number": str(table["number"]),
        "status": table["status"],
        "is_occupied": table["status"] == "busy",
        "is_active": True,
        "zone": table["zone_title"],
        "restaurant": table["branch_name"],
        "session": None
        if session is None
        else {
            "id": session["id"],
            "session_code": session["session_code"],
            "guests_count": session["guests_count"],
            "started_at": session["opened_at"],
        },
    }
