"""Channels and messages of the cafe feeds (seeds 000-002): one place for their exact shapes."""

from __future__ import annotations

from collections.abc import Mapping

from core.shapes import OrderJSON, TableJSON, TaskJSON
from events.outbox import Change

FEEDS = ("orders", "tables", "kitchen")
TABLE_STATUS_DISPLAY = {"busy": "Занят", "free": "Свободен"}


def group_name(feed: str, company_id: str, branch_id: str | None) -> str:
    """cafe_orders_{company_id}_{branch_id}, or cafe_orders_{company_id} for the company-level group."""
    if branch_id is None:
        return f"cafe_{feed}_{company_id}"
    return f"cafe_{feed}_{company_id}_{branch_id}"


def station_group(company_id: str, branch_id: str, station: str) -> str:
    """cafe_kitchen_{company_id}_{branch_id}_{station}: the kitchen feed of one station."""
    return f"{group_name('kitchen', company_id, branch_id)}_{station}"


def feed_channels(company_id: str, branch_id: str, *feeds: str) -> list[str]:
    """A branch's event goes to the branch group and to the company-level group of each feed."""
    channels = []
    for feed in feeds:
        channels += [group_name(feed, company_id, branch_id), group_name(feed, company_id, None)]
    return channels


async def _emit(
    change: Change,
    event_type: str,
    branch_id: str,
    feeds: tuple[str, ...],
    data: Mapping[str, object],
    station: str | None = None,
) -> None:
    """An event on the feeds' branch and company groups, and on its kitchen station's group when it has one."""
    company_id = change.company_id
    message = {"type": event_type, "data": {**data, "company_id": company_id, "branch_id": branch_id}}
    channels = feed_channels(company_id, branch_id, *feeds)
    if station is not None:
        channels.append(station_group(company_id, branch_id, station))
    await change.emit(event_type, channels, message)


async def emit_order(change: Change, event_type: str, order: OrderJSON) -> None:
    """order_created / order_updated on the orders feed."""
    await _emit(change, event_type, order["branch"], ("orders",), {"order": order})


async def emit_order_deleted(change: Change, order: OrderJSON) -> None:
    data = {"order_id": order["id"], "number": order["number"]}
    await _emit(change, "order_deleted", order["branch"], ("orders",), data)


async def emit_table(change: Change, event_type: str, table: TableJSON) -> None:
    """table_created / table_updated on the tables feed."""
    await _emit(change, event_type, table["branch"], ("tables",), {"table": table})


async def emit_table_status(change: Change, table: TableJSON) -> None:
    """table_status_changed goes to the orders and the tables feeds (seed 000)."""
    data = {
        "table": table,
        "table_id": table["id"],
        "table_number": table["number"],
        "status": table["status"],
        "status_display": TABLE_STATUS_DISPLAY[table["status"]],
    }
    await _emit(change, "table_status_changed", table["branch"], ("orders", "tables"), data)


def _task_data(task: TaskJSON) -> dict[str, object]:
    return {
        "task": task,
        "task_id": task["id"],
        "order_id": task["order"],
        "table": task["table_number"],
        "menu_item": task["menu_item_title"],
        "unit_index": task["unit_index"],
    }


async def emit_kitchen_task(change: Change, event_type: str, task: TaskJSON) -> None:
    """kitchen_task_ready (orders and kitchen feeds), kitchen_task_created / _updated (kitchen feed), each also
    on its station's kitchen group."""
    feeds = ("orders", "kitchen") if event_type == "kitchen_task_ready" else ("kitchen",)
    await _emit(change, event_type, task["branch"], feeds, _task_data(task), station=task["station"])


async def emit_task_late(change: Change, task: TaskJSON) -> None:
    """kitchen_task_late: a portion not ready by its due time, on the kitchen (branch and station) and orders feeds."""
    data = {**_task_data(task), "station": task["station"], "due_at": task["due_at"]}
    del data["unit_index"]
    await _emit(change, "kitchen_task_late", task["branch"], ("orders", "kitchen"), data, station=task["station"])


async def emit_screen(change: Change, event_type: str, branch_id: str, station: str | None, since: str) -> None:
    """kitchen_screen_offline / _online on the branch's orders feed (station None: the all-stations screen)."""
    await _emit(change, event_type, branch_id, ("orders",), {"station": station, "since": since})
