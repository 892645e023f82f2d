"""Channels and messages of the cafe feeds (seeds 000-002): one place for their exact shapes."""

from __future__ import annotations

from typing import Any

from domain.outbox import Change

FEEDS = ("orders", "tables", "kitchen")
TABLE_STATUS_DISPLAY = {"busy": "Занят", "free": "Свободен"}


def group_name(feed: str, company_id: str, branch_id: str | None) -> str:
    """cafe_orders_{company_id}_{branch_id}, or cafe_orders_{company_id} for the company-level group."""
    if branch_id is None:
        return f"cafe_{feed}_{company_id}"
    return f"cafe_{feed}_{company_id}_{branch_id}"


def feed_channels(company_id: str, branch_id: str, *feeds: str) -> list[str]:
    """A branch's event goes to the branch group and to the company-level group of each feed."""
    channels = []
    for feed in feeds:
        channels += [group_name(feed, company_id, branch_id), group_name(feed, company_id, None)]
    return channels


def _message(event_type: str, company_id: str, branch_id: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": event_type, "data": {**data, "company_id": company_id, "branch_id": branch_id}}


async def emit_order(change: Change, event_type: str, order: dict[str, Any]) -> None:
    """order_created / order_updated on the orders feed."""
    company_id, branch_id = change.company_id, order["branch"]
    await change.emit(
        event_type,
        feed_channels(company_id, branch_id, "orders"),
        _message(event_type, company_id, branch_id, {"order": order}),
    )


async def emit_order_deleted(change: Change, order: dict[str, Any]) -> None:
    company_id, branch_id = change.company_id, order["branch"]
    data = {"order_id": order["id"], "number": order["number"]}
    await change.emit(
        "order_deleted",
        feed_channels(company_id, branch_id, "orders"),
        _message("order_deleted", company_id, branch_id, data),
    )


async def emit_table(change: Change, event_type: str, table: dict[str, Any]) -> None:
    """table_created / table_updated on the tables feed."""
    company_id, branch_id = change.company_id, table["branch"]
    await change.emit(
        event_type,
        feed_channels(company_id, branch_id, "tables"),
        _message(event_type, company_id, branch_id, {"table": table}),
    )


async def emit_table_status(change: Change, table: dict[str, Any]) -> None:
    """table_status_changed goes to the orders and the tables feeds (seed 000)."""
    company_id, branch_id = change.company_id, table["branch"]
    data = {
        "table": table,
        "table_id": table["id"],
        "table_number": table["number"],
        "status": table["status"],
        "status_display": TABLE_STATUS_DISPLAY[table["status"]],
    }
    await change.emit(
        "table_status_changed",
        feed_channels(company_id, branch_id, "orders", "tables"),
        _message("table_status_changed", company_id, branch_id, data),
    )


async def emit_kitchen_task(change: Change, event_type: str, task: dict[str, Any]) -> None:
    """kitchen_task_ready (orders and kitchen feeds), kitchen_task_created / _updated (kitchen feed)."""
    company_id, branch_id = change.company_id, task["branch"]
    feeds = ("orders", "kitchen") if event_type == "kitchen_task_ready" else ("kitchen",)
    data = {
        "task": task,
        "task_id": task["id"],
        "order_id": task["order"],
        "table": task["table_number"],
        "menu_item": task["menu_item_title"],
        "unit_index": task["unit_index"],
    }
    await change.emit(
        event_type, feed_channels(company_id, branch_id, *feeds), _message(event_type, company_id, branch_id, data)
    )
