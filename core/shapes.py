"""The shapes that cross module boundaries: rows as the database answers them, and the API objects built from them.

A row says `table_id` and `price_cents`; the JSON built from it says `table` and `"12.50"`. Each has its own
TypedDict so a reader never guesses which one a function holds. Rows come from `storage.sql` as `Row` (`dict[str, Any]`)
and are given their shape where they are read (`cast`): the SQL beside that read is what makes the shape true.
"""

from __future__ import annotations

from typing import TypedDict

# Rows (SELECT * FROM the table, or the named columns).


class OrderRow(TypedDict):
    id: str
    company_id: str
    branch_id: str
    number: int
    table_id: str | None
    client_id: str | None
    waiter_id: str | None
    created_by: str
    guests: int
    status: str
    # dine_in, pickup or delivery (orders.ORDER_TYPES)
    type: str
    total_cents: int
    paid_cents: int
    bonuses_used_cents: int
    bonuses_earned_cents: int
    created_at: str
    updated_at: str
    confirmed_at: str | None
    ready_at: str | None
    delivered_at: str | None
    closed_at: str | None
    void_kind: str | None
    voided_by: str | None
    voided_at: str | None
    void_reason: str | None
    written_off_cents: int


class OrderItemRow(TypedDict):
    """An order's line joined with its menu item's title (orders.SELECT_ORDER_ITEMS)."""

    id: str
    menu_item_id: str
    quantity: int
    price_cents: int
    title: str


class TableRow(TypedDict):
    id: str
    company_id: str
    branch_id: str
    zone_id: str | None
    number: int
    places: int
    status: str
    created_at: str


class TaskRow(TypedDict):
    """A kitchen task with its menu item's title and its order's table number (tasks.TASK_COLUMNS)."""

    id: str
    company_id: str
    branch_id: str
    order_id: str
    order_item_id: str
    menu_item_id: str
    unit_index: int
    status: str
    cook_id: str | None
    created_at: str
    started_at: str | None
    ready_at: str | None
    station: str
    due_at: str | None
    served_at: str | None
    late_announced_at: str | None
    menu_item_title: str
    table_number: int | None


class UserRow(TypedDict):
    id: str
    email: str
    password_hash: str
    role: str
    company_id: str | None
    branch_id: str | None
    created_at: str
    is_active: int
    token_version: int


class SessionRow(TypedDict):
    """A table session with its table's number (sessions.SELECT_SESSION)."""

    id: str
    company_id: str
    branch_id: str
    table_id: str
    session_code: str
    guests_count: int
    opened_at: str
    closed_at: str | None
    table_number: int


class BranchRow(TypedDict):
    """A branch's own columns (access.SELECT_BRANCH)."""

    id: str
    company_id: str
    name: str
    city_id: int


class MenuItemRow(TypedDict):
    id: str
    company_id: str
    branch_id: str | None
    title: str
    price_cents: int
    is_active: int
    created_at: str
    station: str
    prep_minutes: int | None


# API objects (what REST answers and events carry).


class OrderItemJSON(TypedDict):
    id: str
    menu_item: str
    menu_item_title: str
    quantity: int
    price: str
    total: str


class VoidJSON(TypedDict):
    """Who voided or comped an order, when, why, and what it still owed then."""

    kind: str
    by: str | None
    reason: str | None
    at: str | None
    amount: str


class OrderJSON(TypedDict):
    id: str
    number: int
    type: str
    table: str | None
    table_number: int | None
    client: str | None
    waiter: str | None
    created_by: str
    guests: int
    status: str
    total_amount: str
    paid_amount: str
    bonuses_used: str
    bonuses_earned: str
    items: list[OrderItemJSON]
    branch: str
    created_at: str
    updated_at: str
    confirmed_at: str | None
    ready_at: str | None
    delivered_at: str | None
    closed_at: str | None
    void: VoidJSON | None


class AddedItemJSON(OrderItemJSON):
    """POST /api/cafe/order-items/: the new item, its order and the order's new total."""

    order: str
    order_total_amount: str


class OrderPage(TypedDict):
    """A page of orders (?page=)."""

    count: int
    next: int | None
    previous: int | None
    results: list[OrderJSON]


class TableJSON(TypedDict):
    id: str
    number: int
    places: int
    status: str
    status_display: str
    zone: str | None
    branch: str


class TaskJSON(TypedDict):
    id: str
    status: str
    order: str
    order_item: str
    menu_item: str
    menu_item_title: str
    table_number: int | None
    unit_index: int
    cook: str | None
    branch: str
    station: str
    created_at: str
    due_at: str | None
    started_at: str | None
    ready_at: str | None
    served_at: str | None
    late_at: str | None


class SessionJSON(TypedDict):
    """A table session as seed 003's session socket shows it."""

    id: str
    table_id: str
    table_number: str
    session_code: str
    guests_count: int
    started_at: str
    closed_at: str | None
    is_active: bool


class UserJSON(TypedDict):
    id: str
    email: str
    role: str
    company: str | None
    branch: str | None
    city_ids: list[int]
    is_active: bool
    created_at: str


class CreatedCompany(TypedDict):
    company_id: str
    owner_id: str
    owner_email: str


class BranchJSON(TypedDict):
    id: str
    name: str
    city_id: int
    company: str


class ZoneJSON(TypedDict):
    id: str
    title: str
    branch: str


class ClientJSON(TypedDict):
    id: str
    name: str
    phone: str | None
    created_at: str


class NotificationJSON(TypedDict):
    id: str
    type: str
    # The event's data, as announce stored it with the notification (a JSON object).
    data: dict[str, object]
    created_at: str
    acknowledged_at: str | None


class ScreenUserJSON(TypedDict):
    id: str
    email: str
    role: str


class ScreenJSON(TypedDict):
    """GET /api/cafe/screens/: one feed (and kitchen station) of a branch, its open sockets and their users."""

    feed: str
    station: str | None
    branch_id: str | None
    users: list[ScreenUserJSON]
    sockets: int
    since: str


class MenuItemJSON(TypedDict):
    id: str
    title: str
    price: str
    is_active: bool
    branch: str | None
    station: str
    prep_minutes: int | None
