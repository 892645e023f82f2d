"""The OpenAPI 3.1 document of the REST API, served at GET /openapi.json.

`PATHS` is the API, one line per operation: `op(summary, returns=..., body=..., query=..., errors=...)`.
Path parameters come from the `{name}` parts of the path (all UUIDs). To add an endpoint, add its
line here (and any new object to describe/shapes.py); tests/test_openapi.py then checks it against
the service.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from describe.shapes import (
    BOOLEAN,
    ID,
    INTEGER,
    MONEY,
    SCHEMAS,
    TEXT,
    TIMESTAMP,
    Schema,
    array,
    enum,
    nullable,
    obj,
    ref,
)
from domain.auth import ROLES
from domain.broadcasts import LEVELS
from domain.kitchen import TASK_STATUSES
from domain.orders import PAYMENT_METHODS, STATUSES

ERRORS = {
    400: "Bad input: `detail` is a message, or `{field: [messages]}`.",
    401: "No valid access token.",
    403: "The user's role may not do this.",
    404: "Not found, or not the user's to see (another company's ids look missing).",
    409: "The current state forbids the change.",
    503: "The database or the broker is down.",
}
# Most authenticated operations can answer these; an operation lists more with `errors=`.
AUTHENTICATED = (401, 403)

NAME = {"type": "string", "minLength": 1, "maxLength": 200}
PRICE: Schema = {"type": ["string", "number"], "description": 'at most two decimals: "12.50", 12.5 or 12'}
GUESTS: Schema = {"type": "integer", "minimum": 1, "maximum": 1000}
QUANTITY: Schema = {"type": "integer", "minimum": 1, "maximum": 100}
LINES = {"type": "array", "maxItems": 100, "items": obj({"menu_item": ID}, {"quantity": QUANTITY})}

REQUESTS: dict[str, Schema] = {
    "Login": obj({"email": TEXT, "password": TEXT}),
    "Refresh": obj({"refresh": TEXT}),
    "NewBranch": obj({"name": NAME, "city_id": {"type": "integer", "minimum": 1}}),
    "NewUser": obj(
        {"email": TEXT, "password": {"type": "string", "minLength": 8, "maxLength": 128}, "role": enum(ROLES)},
        {"branch": nullable(ID), "city_ids": array({"type": "integer", "minimum": 1})},
    ),
    "NewZone": obj({"title": NAME}, {"branch": nullable(ID)}),
    "NewTable": obj(
        {"number": {"type": "integer", "minimum": 1, "maximum": 100_000}, "places": GUESTS},
        {"zone": nullable(ID), "branch": nullable(ID)},
    ),
    "TableChange": obj(
        {}, {"number": {"type": "integer", "minimum": 1, "maximum": 100_000}, "places": GUESTS, "zone": nullable(ID)}
    ),
    "NewTableSession": obj({"table": ID}, {"guests_count": GUESTS}),
    "TableSessionChange": obj({"guests_count": GUESTS}),
    "NewMenuItem": obj({"title": NAME, "price": PRICE}, {"branch": nullable(ID), "is_active": BOOLEAN}),
    "MenuItemChange": obj({}, {"title": NAME, "price": PRICE, "is_active": BOOLEAN}),
    "NewClient": obj({"name": NAME, "phone": {"type": "string", "minLength": 1, "maxLength": 32}}),
    "NewOrder": obj(
        {},
        {
            "table": nullable(ID),
            "guests": GUESTS,
            "client": nullable(ID),
            "waiter": nullable(ID),
            "items": LINES,
            "branch": nullable(ID),
        },
    ),
    "NewCustomerOrder": obj({"branch": ID, "items": LINES}, {"guests": GUESTS, "bonuses_used": PRICE}),
    "OrderChange": obj(
        {},
        {
            "status": enum(STATUSES),
            "guests": GUESTS,
            "waiter": nullable(ID),
            "client": nullable(ID),
            "table": nullable(ID),
        },
    ),
    "Payment": obj({}, {"method": enum(PAYMENT_METHODS), "amount": PRICE, "close": BOOLEAN}),
    "NewOrderItem": obj({"order": ID, "menu_item": ID}, {"quantity": QUANTITY}),
    "OrderItemChange": obj({"quantity": QUANTITY}),
    "KitchenTaskChange": obj({"status": enum(TASK_STATUSES)}),
    "NewBroadcast": obj(
        {"message": {"type": "string", "minLength": 1, "maxLength": 1000}},
        {"level": enum(LEVELS), "branch": nullable(ID)},
    ),
}

RESPONSES: dict[str, Schema] = {
    "Error": obj({"detail": {"anyOf": [TEXT, {"type": "object", "additionalProperties": array(TEXT)}]}}),
    "Tokens": obj({"access": TEXT, "refresh": TEXT}),
    "AccessToken": obj({"access": TEXT}),
    "Health": obj({"database": enum(["ok", "down"]), "broker": enum(["ok", "down"])}),
    "Branch": obj({"id": ID, "name": TEXT, "city_id": INTEGER, "company": ID}),
    "Zone": obj({"id": ID, "title": TEXT, "branch": ID}),
    "MenuItem": obj({"id": ID, "title": TEXT, "price": MONEY, "is_active": BOOLEAN, "branch": nullable(ID)}),
    "Client": obj({"id": ID, "name": TEXT, "phone": TEXT, "created_at": TIMESTAMP}),
    "OrderPage": obj(
        {
            "count": INTEGER,
            "next": nullable(INTEGER),
            "previous": nullable(INTEGER),
            "results": array(ref("Order")),
        }
    ),
    "BroadcastSent": obj(
        {"message": TEXT, "level": enum(LEVELS), "sender": ID, "created_at": TIMESTAMP, "branches": array(ID)}
    ),
    "Bonuses": obj(
        {
            "balance": MONEY,
            "operations": array(
                obj(
                    {
                        "type": enum(["earned", "used"]),
                        "amount": MONEY,
                        "balance_after": MONEY,
                        "order": ID,
                        "created_at": TIMESTAMP,
                    }
                )
            ),
        }
    ),
}


def query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


BRANCH_ID = query("branch_id", ID, "owners and admins: only this branch of the company (others: ignored)")
PAGE = query("page", {"type": "integer", "minimum": 1}, "answer `{count, next, previous, results}`, 50 a page")
ORDER_FILTERS = [
    query("status", enum(STATUSES), "only orders in this status"),
    query("table", ID, "only this table's orders"),
    query("waiter", ID, "only this waiter's orders"),
    query("client", ID, "only this client's orders"),
    BRANCH_ID,
    PAGE,
]
SCHEMA_DOCUMENT: Schema = {"type": "object", "description": "a JSON document"}


def op(
    summary: str,
    *,
    returns: Schema | None = None,
    status: int = 200,
    body: str | None = None,
    query: list[dict[str, Any]] | tuple = (),
    errors: tuple[int, ...] = (),
    public: bool = False,
    tag: str,
) -> dict[str, Any]:
    """One operation: its success answer, its body (a name of REQUESTS or a schema), its errors."""
    operation: dict[str, Any] = {"tags": [tag], "summary": summary, "parameters": list(query)}
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    success: dict[str, Any] = {"description": summary}
    if returns is not None:
        success["content"] = {"application/json": {"schema": returns}}
    codes = errors if public else (*AUTHENTICATED, *errors)
    operation["responses"] = {str(status): success} | {
        str(code): {"$ref": f"#/components/responses/{code}"} for code in sorted(set(codes))
    }
    if public:
        operation["security"] = []
    return operation


ORDER, ORDERS = ref("Order"), {"anyOf": [array(ref("Order")), ref("OrderPage")]}
TABLE, TASK, SESSION = ref("Table"), ref("KitchenTask"), ref("TableSession")

PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/healthz": {
        "get": op("Database and broker health", returns=ref("Health"), errors=(503,), public=True, tag="service")
    },
    "/openapi.json": {"get": op("This document", returns=SCHEMA_DOCUMENT, public=True, tag="service")},
    "/asyncapi.json": {
        "get": op("The AsyncAPI 3.0 document of the sockets", returns=SCHEMA_DOCUMENT, public=True, tag="service")
    },
    "/api/users/login/": {
        "post": op("Log in", body="Login", returns=ref("Tokens"), errors=(400, 401), public=True, tag="accounts")
    },
    "/api/auth/login/": {
        "post": op(
            "Log in (alias)", body="Login", returns=ref("Tokens"), errors=(400, 401), public=True, tag="accounts"
        )
    },
    "/api/users/token/refresh/": {
        "post": op(
            "A new access token",
            body="Refresh",
            returns=ref("AccessToken"),
            errors=(400, 401),
            public=True,
            tag="accounts",
        )
    },
    "/api/users/me/": {"get": op("The current user", returns=ref("User"), errors=(404,), tag="accounts")},
    "/api/users/": {
        "get": op("The company's users (managers up)", returns=array(ref("User")), tag="accounts"),
        "post": op(
            "Add a user (owner, admin)",
            body="NewUser",
            returns=ref("User"),
            status=201,
            errors=(400, 404, 409),
            tag="accounts",
        ),
    },
    "/api/branches/": {
        "get": op("The company's branches", returns=array(ref("Branch")), tag="accounts"),
        "post": op(
            "Add a branch (owner, admin)",
            body="NewBranch",
            returns=ref("Branch"),
            status=201,
            errors=(400,),
            tag="accounts",
        ),
    },
    "/api/cafe/zones/": {
        "get": op("Zones", returns=array(ref("Zone")), query=[BRANCH_ID], errors=(404,), tag="floor"),
        "post": op("Add a zone", body="NewZone", returns=ref("Zone"), status=201, errors=(400, 404), tag="floor"),
    },
    "/api/cafe/tables/": {
        "get": op("Tables", returns=array(TABLE), query=[BRANCH_ID], errors=(404,), tag="floor"),
        "post": op("Add a table", body="NewTable", returns=TABLE, status=201, errors=(400, 404, 409), tag="floor"),
    },
    "/api/cafe/tables/{table_id}/": {
        "get": op("A table", returns=TABLE, errors=(404,), tag="floor"),
        "patch": op("Change a table", body="TableChange", returns=TABLE, errors=(400, 404, 409), tag="floor"),
    },
    "/api/cafe/table-sessions/": {
        "post": op(
            "Seat guests at a table",
            body="NewTableSession",
            returns=SESSION,
            status=201,
            errors=(400, 404, 409),
            tag="floor",
        )
    },
    "/api/cafe/table-sessions/{session_id}/": {
        "get": op("A table session", returns=SESSION, errors=(404,), tag="floor"),
        "patch": op(
            "Change the guests count", body="TableSessionChange", returns=SESSION, errors=(400, 404, 409), tag="floor"
        ),
    },
    "/api/cafe/table-sessions/{session_id}/close/": {
        "post": op("Close a table session", returns=SESSION, errors=(404, 409), tag="floor")
    },
    "/api/cafe/menu-items/": {
        "get": op("The menu", returns=array(ref("MenuItem")), query=[BRANCH_ID], errors=(404,), tag="catalog"),
        "post": op(
            "Add a menu item", body="NewMenuItem", returns=ref("MenuItem"), status=201, errors=(400, 404), tag="catalog"
        ),
    },
    "/api/cafe/menu-items/{item_id}/": {
        "patch": op(
            "Change a menu item", body="MenuItemChange", returns=ref("MenuItem"), errors=(400, 404), tag="catalog"
        )
    },
    "/api/cafe/clients/": {
        "get": op(
            "Clients",
            returns=array(ref("Client")),
            query=[query("search", TEXT, "part of the name or phone")],
            tag="catalog",
        ),
        "post": op("Add a client", body="NewClient", returns=ref("Client"), status=201, errors=(400,), tag="catalog"),
    },
    "/api/cafe/clients/{client_id}/orders/": {
        "get": op("A client's orders", returns=ORDERS, query=[PAGE], errors=(400, 404), tag="catalog")
    },
    "/api/cafe/orders/": {
        "get": op(
            "Orders, newest first (1000, or a page)",
            returns=ORDERS,
            query=ORDER_FILTERS,
            errors=(400, 404),
            tag="orders",
        ),
        "post": op(
            "Place an order (staff: NewOrder; customers: NewCustomerOrder)",
            body="NewAnyOrder",
            returns=ORDER,
            status=201,
            errors=(400, 404, 409),
            tag="orders",
        ),
    },
    "/api/cafe/orders/{order_id}/": {
        "get": op("An order", returns=ORDER, errors=(404,), tag="orders"),
        "patch": op("Change an order", body="OrderChange", returns=ORDER, errors=(400, 404, 409), tag="orders"),
        "delete": op("Delete an unpaid order (managers up)", status=204, errors=(404, 409), tag="orders"),
    },
    "/api/cafe/orders/{order_id}/pay/": {
        "post": op("Pay an order", body="Payment", returns=ORDER, errors=(400, 404, 409), tag="orders")
    },
    "/api/cafe/order-items/": {
        "post": op(
            "Add an item to an order (answers the order)",
            body="NewOrderItem",
            returns=ORDER,
            status=201,
            errors=(400, 404, 409),
            tag="orders",
        )
    },
    "/api/cafe/order-items/{item_id}/": {
        "patch": op(
            "Change an item's quantity", body="OrderItemChange", returns=ORDER, errors=(400, 404, 409), tag="orders"
        ),
        "delete": op("Remove an item (answers the order)", returns=ORDER, errors=(404, 409), tag="orders"),
    },
    "/api/cafe/kitchen/tasks/": {
        "get": op(
            "Kitchen tasks, one per portion",
            returns=array(TASK),
            query=[
                query("status", enum(TASK_STATUSES), "only tasks in this status"),
                query("mine", enum(["1", "true"]), "only the tasks the current cook claimed"),
                BRANCH_ID,
            ],
            errors=(400, 404),
            tag="kitchen",
        )
    },
    "/api/cafe/kitchen/tasks/{task_id}/": {
        "get": op("A kitchen task", returns=TASK, errors=(404,), tag="kitchen"),
        "patch": op(
            "Move a kitchen task", body="KitchenTaskChange", returns=TASK, errors=(400, 404, 409), tag="kitchen"
        ),
    },
    "/api/cafe/kitchen/tasks/{task_id}/claim/": {
        "post": op("Claim a portion (cook)", returns=TASK, errors=(404, 409), tag="kitchen")
    },
    "/api/cafe/kitchen/tasks/{task_id}/ready/": {
        "post": op("A portion is ready", returns=TASK, errors=(404, 409), tag="kitchen")
    },
    "/api/cafe/broadcasts/": {
        "post": op(
            "Broadcast to a branch (managers up)",
            body="NewBroadcast",
            returns=ref("BroadcastSent"),
            status=201,
            errors=(400, 404),
            tag="messages",
        )
    },
    "/api/cafe/notifications/": {
        "get": op(
            "The current user's notifications",
            returns=array(ref("Notification")),
            query=[query("unread", enum(["1", "true"]), "only unacknowledged ones")],
            tag="messages",
        )
    },
    "/api/cafe/notifications/{notification_id}/acknowledge/": {
        "post": op("Acknowledge a notification", returns=ref("Notification"), errors=(404, 409), tag="messages")
    },
    "/api/bonuses/me/": {"get": op("The customer's bonus balance", returns=ref("Bonuses"), tag="bonuses")},
}


def _with_path_parameters(path: str, operations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    names = re.findall(r"{(\w+)}", path)
    item: dict[str, Any] = dict(operations)
    if names:
        item["parameters"] = [{"name": name, "in": "path", "required": True, "schema": ID} for name in names]
    return item


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cafe_rt REST API",
            "version": "1.0.0",
            "description": "Writes over REST; every change is pushed over the sockets described at /asyncapi.json. "
            "Ids are UUIDs, money a string with two decimals, timestamps ISO 8601 UTC; every error is "
            '`{"detail": ...}`.',
        },
        "security": [{"bearerAuth": []}],
        "paths": {path: _with_path_parameters(path, operations) for path, operations in PATHS.items()},
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": {
                **SCHEMAS,
                **RESPONSES,
                **REQUESTS,
                "NewAnyOrder": {"anyOf": [ref("NewOrder"), ref("NewCustomerOrder")]},
            },
            "responses": {
                str(code): {
                    "description": text,
                    "content": {"application/json": {"schema": ref("Error")}},
                }
                for code, text in ERRORS.items()
            },
        },
    }
