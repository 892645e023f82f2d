"""The shapes that cross module boundaries: rows as the database answers them, and the API objects built from them.

A row says `table_id` and `price_cents`; the JSON built from it says `table` and `"12.50"`. Each has its own
TypedDict so a reader never guesses which one a function holds. Rows come from `storage.sql` as `Row` (`dict[str, Any]`)
and are given their shape where they are read (`cast`): the SQL beside that read is what makes the shape true.

The API objects are also what /openapi.json and /asyncapi.json describe: describe/shapes.py generates their JSON
Schemas from these classes, so a field added here is documented (and checked in every test) at once. `Id`,
`Timestamp` and `Money` are plain `str` to mypy and to the code; their `JSONSchema` says what kind of text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypedDict


@dataclass(frozen=True)
class JSONSchema:
    """JSON Schema keywords a value's Python type cannot say, carried with the type in `Annotated[...]`."""

    format: str | None = None
    pattern: str | None = None
    description: str | None = None


Id = Annotated[str, JSONSchema(format="uuid")]
Timestamp = Annotated[str, JSONSchema(format="date-time", description="ISO 8601 UTC")]
# As core.values.format_cents writes it.
Money = Annotated[str, JSONSchema(pattern=r"^-?[0-9]+\.[0-9]{2}$", description='two decimals, "12.50"')]

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
    id: Id
    menu_item: Id
    menu_item_title: str
    quantity: int
    price: Money
    total: Money


class VoidJSON(TypedDict):
    """Who voided or comped an order, when, why, and what it still owed then."""

    kind: str
    by: Id | None
    reason: str | None
    at: Timestamp | None
    amount: Money


class OrderJSON(TypedDict):
    id: Id
    number: int
    type: str
    table: Id | None
    table_number: int | None
    client: Id | None
    waiter: Id | None
    created_by: Id
    guests: int
    status: str
    total_amount: Money
    paid_amount: Money
    bonuses_used: Money
    bonuses_earned: Money
    items: list[OrderItemJSON]
    branch: Id
    created_at: Timestamp
    updated_at: Timestamp
    confirmed_at: Timestamp | None
    ready_at: Timestamp | None
    delivered_at: Timestamp | None
    closed_at: Timestamp | None
    void: VoidJSON | None


class AddedItemJSON(OrderItemJSON):
    """POST /api/cafe/order-items/: the new item, its order and the order's new total."""

    order: Id
    order_total_amount: Money


class OrderPage(TypedDict):
    """A page of orders (?page=)."""

    count: int
    next: int | None
    previous: int | None
    results: list[OrderJSON]


class TableJSON(TypedDict):
    id: Id
    number: int
    places: int
    status: str
    status_display: str
    zone: Id | None
    branch: Id


class TaskJSON(TypedDict):
    id: Id
    status: str
    order: Id
    order_item: Id
    menu_item: Id
    menu_item_title: str
    table_number: int | None
    unit_index: int
    cook: Id | None
    branch: Id
    station: str
    created_at: Timestamp
    due_at: Timestamp | None
    started_at: Timestamp | None
    ready_at: Timestamp | None
    served_at: Timestamp | None
    late_at: Timestamp | None


class SessionJSON(TypedDict):
    """A table session as seed 003's session socket shows it."""

    id: Id
    table_id: Id
    table_number: str
    session_code: str
    guests_count: int
    started_at: Timestamp
    closed_at: Timestamp | None
    is_active: bool


class OpenSessionJSON(TypedDict):
    """A table's open session, as its state shows it."""

    id: Id
    session_code: str
    guests_count: int
    started_at: Timestamp


class TableStateJSON(TypedDict):
    """A table as the entity sockets show it (seed 003's table_update example)."""

    table_id: Id
    table_number: str
    status: str
    is_occupied: bool
    is_active: bool
    zone: str | None
    restaurant: str
    session: OpenSessionJSON | None


class OrderStatusJSON(TypedDict):
    """An order as its entity socket's order_status shows it (seed 003's example, and its void)."""

    id: Id
    status: str
    status_display: str
    total_amount: Money
    items_count: int
    created_at: Timestamp
    confirmed_at: Timestamp | None
    ready_at: Timestamp | None
    delivered_at: Timestamp | None
    void: VoidJSON | None


class UserJSON(TypedDict):
    id: Id
    email: str
    role: str
    company: Id | None
    branch: Id | None
    city_ids: list[int]
    is_active: bool
    created_at: Timestamp


class CreatedCompany(TypedDict):
    company_id: str
    owner_id: str
    owner_email: str


class BranchJSON(TypedDict):
    id: Id
    name: str
    city_id: int
    company: Id


class ZoneJSON(TypedDict):
    id: Id
    title: str
    branch: Id


class ClientJSON(TypedDict):
    id: Id
    name: str
    phone: str | None
    created_at: Timestamp


class NotificationJSON(TypedDict):
    id: Id
    type: str
    # The event's data, as announce stored it with the notification (a JSON object).
    data: dict[str, object]
    created_at: Timestamp
    acknowledged_at: Timestamp | None


class ScreenUserJSON(TypedDict):
    id: Id
    email: str
    role: str


class ScreenJSON(TypedDict):
    """GET /api/cafe/screens/: one feed (and kitchen station) of a branch, its open sockets and their users."""

    feed: str
    station: str | None
    branch_id: Id | None
    users: list[ScreenUserJSON]
    sockets: int
    since: Timestamp


class MenuItemJSON(TypedDict):
    id: Id
    title: str
    price: Money
    is_active: bool
    branch: Id | None
    station: str
    prep_minutes: int | None
