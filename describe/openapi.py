"""The OpenAPI 3.1 document of the REST API, served at GET /openapi.json.

`PATHS` is the API, one line per operation: `op(summary, returns=..., body=..., query=..., errors=...)`.
Path parameters come from the `{name}` parts of the path (all UUIDs). To add an endpoint, add its
line here (a new request body to describe/bodies.py, a new answer object to core/shapes.py as a TypedDict and
its `Component` to describe/shapes.py);
tests/test_openapi.py then holds the service to it.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from describe.asyncapi import CHANNELS, ROOMS
from describe.bodies import REQUESTS, RESPONSES
from describe.json_schema import Schema, array, enum, ref
from describe.shapes import ID, SCHEMAS, STATION, TEXT
from domain.kitchen import TASK_STATUSES
from domain.orders import STATUSES

ERRORS = {
    400: "Bad input: `detail` is a message, or `{field: [messages]}`.",
    401: "No valid access token.",
    403: "The user's role may not do this; or, from a browser, a foreign Origin, or a cookie-authenticated write "
    "without the CSRF token.",
    404: "Not found, or not the user's to see (another company's ids look missing).",
    409: "The current state forbids the change, or a request with the same `Idempotency-Key` is still running "
    "(then with `Retry-After`).",
    413: "The request body is over 256 KiB.",
    422: "This `Idempotency-Key` was used with another request body.",
    429: "Too many failed logins: the account or the client address is locked for `Retry-After` seconds.",
    503: "A dependency is down (`detail` names it: the database unreachable or shutting down, its disk full, no "
    "pool connection in time): nothing was changed; retry after `Retry-After` seconds.",
}
RETRY_AFTER = {"schema": {"type": "integer"}}
HEADERS = {
    409: {"Retry-After": {"description": "seconds to wait when the same key is still running", **RETRY_AFTER}},
    429: {"Retry-After": {"description": "seconds until the lock ends", **RETRY_AFTER}},
    503: {"Retry-After": {"description": "seconds to wait before retrying", **RETRY_AFTER}},
}
WRITE_METHODS = ("post", "patch", "put", "delete")
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": "Makes a retry harmless: a repeat with the same key (same user, method and path) and the same "
    "body gets the first answer again with `Idempotent-Replayed: true` and changes nothing; another body is 422, "
    "a repeat while the first runs is 409. Kept IDEMPOTENCY_TTL seconds (a day). 5xx answers are not kept. "
    "Operations that take no access token (log in, refresh, log out) check its form and otherwise ignore it.",
}
REPLAYED_HEADER = {
    "Idempotent-Replayed": {
        "description": "`true` on an answer given again for a repeated `Idempotency-Key`",
        "schema": {"type": "string", "enum": ["true"]},
    }
}
# Most authenticated operations can answer these; an operation lists more with `errors=`.
AUTHENTICATED = (401, 403)
# Any operation that reads a body: malformed or invalid JSON, and a body too large.
WITH_BODY = (400, 413)


def query_param(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


BRANCH_ID = query_param("branch_id", ID, "owners and admins: only this branch of the company (others: ignored)")
PAGE = query_param("page", {"type": "integer", "minimum": 1}, "answer `{count, next, previous, results}`, 50 a page")
ORDER_FILTERS = [
    query_param("status", enum(STATUSES), "only orders in this status"),
    query_param("table", ID, "only this table's orders"),
    query_param("waiter", ID, "only this waiter's orders"),
    query_param("client", ID, "only this client's orders"),
    query_param(
        "voided",
        enum(["true", "void", "comp"]),
        "the void and comp report (owners, admins, managers; others 403): only voided (`void`), comped (`comp`) "
        "or both (`true`) orders, each with its `void` (who, when, why, how much)",
    ),
    BRANCH_ID,
    PAGE,
]
SCHEMA_DOCUMENT: Schema = {"type": "object", "description": "a JSON document"}
PROMETHEUS_TEXT: Schema = {"type": "string", "description": "the Prometheus text exposition format, version 0.0.4"}


def op(
    summary: str,
    *,
    returns: Schema | None = None,
    media_type: str = "application/json",
    status: int = 200,
    body: str | None = None,
    body_required: bool = True,
    query: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    errors: tuple[int, ...] = (),
    also: dict[int, tuple[str, Schema]] | None = None,
    public: bool = False,
    tag: str,
) -> dict[str, Any]:
    """One operation: its success answer (JSON unless `media_type` says otherwise), its body (a name of
    REQUESTS), its error statuses (answered with `{"detail": ...}`), and `also` any other answer:
    {status: (description, schema)}."""
    operation: dict[str, Any] = {"tags": [tag], "summary": summary, "parameters": list(query)}
    if body is not None:
        operation["requestBody"] = {
            "required": body_required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}},
        }
    success: dict[str, Any] = {"description": summary}
    if returns is not None:
        success["content"] = {media_type: {"schema": returns}}
    codes = errors if public else (*AUTHENTICATED, *errors)
    if body is not None:
        codes = (*codes, *WITH_BODY)
    operation["responses"] = (
        {str(status): success}
        | {str(code): {"$ref": f"#/components/responses/{code}"} for code in sorted(set(codes))}
        | {
            str(code): {"description": text, "content": {"application/json": {"schema": schema}}}
            for code, (text, schema) in (also or {}).items()
        }
    )
    if public:
        operation["security"] = []
    return operation


ORDER, ORDERS = ref("Order"), {"anyOf": [array(ref("Order")), ref("OrderPage")]}
TABLE, TASK, SESSION = ref("Table"), ref("KitchenTask"), ref("TableSession")

PATHS: dict[str, dict[str, dict[str, Any]]] = {
    "/healthz": {
        "get": op(
            "The database answers and the broker carried the last probe",
            returns=ref("Health"),
            also={503: ("The database or the broker is down", ref("Health"))},
            public=True,
            tag="service",
        )
    },
    "/openapi.json": {"get": op("This document", returns=SCHEMA_DOCUMENT, public=True, tag="service")},
    "/asyncapi.json": {
        "get": op("The AsyncAPI 3.0 document of the sockets", returns=SCHEMA_DOCUMENT, public=True, tag="service")
    },
    "/metrics": {
        "get": op(
            "Counters and latencies for Prometheus (with METRICS_TOKEN set: that as a Bearer token)",
            returns=PROMETHEUS_TEXT,
            media_type="text/plain",
            errors=(401,),
            public=True,
            tag="service",
        )
    },
    "/api/users/login/": {
        "post": op(
            "Log in; also sets the browser session's cookies (access_token, refresh_token, csrf_token)",
            body="Login",
            returns=ref("LoginTokens"),
            errors=(400, 401, 403, 429),
            public=True,
            tag="accounts",
        )
    },
    "/api/auth/login/": {
        "post": op(
            "Log in (alias)",
            body="Login",
            returns=ref("LoginTokens"),
            errors=(400, 401, 403, 429),
            public=True,
            tag="accounts",
        )
    },
    "/api/auth/csrf": {
        "get": op(
            "The browser session's CSRF token for X-CSRF-Token (sets the csrf_token cookie when missing)",
            returns=ref("CsrfToken"),
            public=True,
            tag="accounts",
        )
    },
    "/api/auth/refresh": {
        "post": op(
            "Rotate the browser session: the refresh cookie (or a {refresh} body) for new cookies",
            body="SessionRefresh",
            body_required=False,
            returns=ref("SessionRefreshed"),
            errors=(400, 401, 403),
            public=True,
            tag="accounts",
        )
    },
    "/api/auth/logout": {
        "post": op(
            "End the browser session, and every other of the user (refresh cookie or {refresh} body); clears cookies",
            body="SessionRefresh",
            body_required=False,
            returns=ref("LoggedOut"),
            errors=(400, 401, 403),
            public=True,
            tag="accounts",
        )
    },
    "/api/auth/session": {
        "get": op("The signed-in user of the session", returns=ref("Session"), errors=(404,), tag="accounts")
    },
    "/api/users/token/refresh/": {
        "post": op(
            "New tokens; the refresh token is used up (a used one again revokes every token of the user)",
            body="Refresh",
            returns=ref("Tokens"),
            errors=(400, 401, 403),
            public=True,
            tag="accounts",
        )
    },
    "/api/users/logout/": {
        "post": op(
            "Log out everywhere: every token of the refresh token's user is revoked",
            body="Refresh",
            status=204,
            errors=(400, 401, 403),
            public=True,
            tag="accounts",
        )
    },
    "/api/auth/ws-ticket": {
        "post": op("A single-use ticket for ?ticket= on any socket", returns=ref("WsTicket"), tag="accounts")
    },
    "/api/users/me/": {"get": op("The current user", returns=ref("User"), errors=(404,), tag="accounts")},
    "/api/users/me/password/": {
        "post": op(
            "Change the current user's password: every old token is revoked, new ones answered",
            body="PasswordChange",
            returns=ref("Tokens"),
            errors=(400, 404, 429),
            tag="accounts",
        )
    },
    "/api/users/": {
        "get": op(
            "Users: owners and admins see the company's; a manager its branch's staff and the customers of its "
            "branch's orders",
            returns=array(ref("User")),
            tag="accounts",
        ),
        "post": op(
            "Add a user (owner, admin)",
            body="NewUser",
            returns=ref("User"),
            status=201,
            errors=(400, 404, 409),
            tag="accounts",
        ),
    },
    "/api/users/{user_id}/": {
        "patch": op(
            "Change a user's role, branch, cities or is_active (owner, admin); its tokens are revoked",
            body="UserChange",
            returns=ref("User"),
            errors=(400, 404, 409),
            tag="accounts",
        )
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
        "get": op(
            "Zones (staff; customers 403)", returns=array(ref("Zone")), query=[BRANCH_ID], errors=(404,), tag="floor"
        ),
        "post": op("Add a zone", body="NewZone", returns=ref("Zone"), status=201, errors=(400, 404), tag="floor"),
    },
    "/api/cafe/tables/": {
        "get": op("Tables (staff; customers 403)", returns=array(TABLE), query=[BRANCH_ID], errors=(404,), tag="floor"),
        "post": op("Add a table", body="NewTable", returns=TABLE, status=201, errors=(400, 404, 409), tag="floor"),
    },
    "/api/cafe/tables/{table_id}/": {
        "get": op("A table (staff; customers 403)", returns=TABLE, errors=(404,), tag="floor"),
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
            "Clients (waiters get `phone: null`; cooks and customers 403)",
            returns=array(ref("Client")),
            query=[query_param("search", TEXT, "part of the name, or of the phone for those who see phones")],
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
        "patch": op(
            "Change an order; a void or comp is for owners, admins and managers (403) and needs a reason (400)",
            body="OrderChange",
            returns=ORDER,
            errors=(400, 404, 409),
            tag="orders",
        ),
        "delete": op(
            "Delete an unpaid order the kitchen has not started (managers up; else 409: cancel it, a void)",
            status=204,
            errors=(404, 409),
            tag="orders",
        ),
    },
    "/api/cafe/orders/{order_id}/pay/": {
        "post": op("Pay an order", body="Payment", returns=ORDER, errors=(400, 404, 409), tag="orders")
    },
    "/api/cafe/order-items/": {
        "post": op(
            "Add an item to an order (answers the item, its order and the new total)",
            body="NewOrderItem",
            returns=ref("AddedOrderItem"),
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
                query_param("status", enum(TASK_STATUSES), "only tasks in this status (served ones only when asked)"),
                query_param("station", STATION, "only this kitchen station's portions"),
                query_param("mine", enum(["1", "true", "0", "false"]), "only the tasks the current cook claimed"),
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
    "/api/cafe/kitchen/tasks/{task_id}/served/": {
        "post": op(
            "A ready portion went out (bump): it leaves the queue", returns=TASK, errors=(404, 409), tag="kitchen"
        )
    },
    "/api/cafe/kitchen/tasks/{task_id}/recall/": {
        "post": op("A ready or served portion back to cooking (recall)", returns=TASK, errors=(404, 409), tag="kitchen")
    },
    "/api/cafe/screens/": {
        "get": op(
            "The branch's open feed sockets now (every process), per feed and kitchen station, with their users",
            returns=array(ref("Screen")),
            query=[query_param("branch", ID, "owners and admins: only this branch (else the whole company)")],
            errors=(404,),
            tag="kitchen",
        )
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
            query=[query_param("unread", enum(["1", "true", "0", "false"]), "only unacknowledged ones")],
            errors=(400,),
            tag="messages",
        )
    },
    "/api/cafe/notifications/{notification_id}/acknowledge/": {
        "post": op("Acknowledge a notification", returns=ref("Notification"), errors=(404, 409), tag="messages")
    },
    "/api/bonuses/me/": {"get": op("The customer's bonus balance", returns=ref("Bonuses"), tag="bonuses")},
}


def operation_id(method: str, path: str) -> str:
    """`get` `/api/cafe/orders/{order_id}/pay/` -> `getCafeOrdersByOrderIdPay`: unique, and what client
    generators name their methods by."""
    words = []
    for segment in path.strip("/").removeprefix("api").split("/"):
        parameter = re.fullmatch(r"{(\w+)}", segment)
        name = f"by_{parameter[1]}" if parameter else segment
        words += [word.capitalize() for word in re.split(r"[_\-.]", name) if word]
    return method + "".join(words)


EVENT_STREAM: Schema = {
    "type": "string",
    "description": "text/event-stream: one event per frame the socket sends (`id:` its event_id, `event:` its "
    "type, `data:` its JSON text, as /asyncapi.json describes it), the connect message first, a `: ping` comment "
    "every SSE_PING_INTERVAL seconds; a final `: closed <code> ...` comment when the server ends the stream",
}
STREAM_QUERY = [
    query_param("token", TEXT, "an access token (or send `Authorization: Bearer`)"),
    query_param("ticket", TEXT, "a single-use ticket from POST /api/auth/ws-ticket (what EventSource can send)"),
    query_param(
        "last_event_id",
        {"type": "string", "pattern": "^[0-9]+$"},
        "resume: every event after this one first, else resync_required (the `Last-Event-ID` header wins)",
    ),
]
STREAM_ROOMS = query_param(
    "rooms", TEXT, "comma-separated rooms to join from the start, each allowed as join-room is (403 otherwise)"
)
STREAM_ANSWERS: dict[int, tuple[str, Schema]] = {
    426: ("Not `Accept: text/event-stream`: open the URL as a WebSocket, or ask for an event stream", ref("Error")),
    429: ("The user has MAX_SOCKETS_PER_USER sockets and event streams open", ref("Error")),
    503: ("The server is shutting down", ref("Error")),
}


def event_stream_paths() -> dict[str, dict[str, dict[str, Any]]]:
    """GET on every socket URL of /asyncapi.json with `Accept: text/event-stream`: the socket's frames as
    server-sent events, read-only."""
    paths = {}
    for channel in CHANNELS.values():
        query = [*STREAM_QUERY, *([BRANCH_ID] if channel.branch_query else [])]
        if channel.sends == ROOMS.sends:
            query.append(STREAM_ROOMS)
        answers = STREAM_ANSWERS | ({400: ("Too many rooms", ref("Error"))} if channel.sends == ROOMS.sends else {})
        paths[channel.address] = {
            "get": op(
                f"{channel.title}, as server-sent events (send `Accept: text/event-stream`)",
                returns=EVENT_STREAM,
                media_type="text/event-stream",
                query=query,
                errors=(404,),
                also=answers,
                tag="events",
            )
        }
    return paths


def _retry_safe(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """Every operation may answer 503 (a dependency down); every write under /api/ takes an Idempotency-Key."""
    responses = dict(operation["responses"])
    if "503" not in responses:
        responses["503"] = {"$ref": "#/components/responses/503"}
    if method not in WRITE_METHODS or not path.startswith("/api/"):
        return {**operation, "responses": responses}
    for code in ("400", "409", "422"):
        responses.setdefault(code, {"$ref": f"#/components/responses/{code}"})
    for code, response in responses.items():
        if code.startswith("2"):
            responses[code] = {**response, "headers": REPLAYED_HEADER}
    return {**operation, "parameters": [*operation["parameters"], IDEMPOTENCY_KEY], "responses": responses}


def _with_path_parameters(path: str, operations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    names = re.findall(r"{(\w+)}", path)
    item: dict[str, Any] = {
        method: {"operationId": operation_id(method, path), **_retry_safe(path, method, operation)}
        for method, operation in operations.items()
    }
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
            '`{"detail": ...}`. Before any operation: 400 (text) for a `Host` not in ALLOWED_HOSTS; under '
            "`cafe_rt.py serve`, 431 for a request head over 64 KiB, 408 for a request that has not arrived within "
            "REQUEST_TIMEOUT.",
        },
        "servers": [{"url": "http://localhost:8000", "description": "`cafe_rt.py serve`; https behind TLS"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": {
            path: _with_path_parameters(path, operations) for path, operations in (PATHS | event_stream_paths()).items()
        },
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                # A browser session: writes also need X-CSRF-Token equal to the csrf_token cookie.
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "access_token"},
            },
            "schemas": SCHEMAS | RESPONSES | REQUESTS,
            "responses": {
                str(code): {
                    "description": text,
                    "content": {"application/json": {"schema": ref("Error")}},
                }
                | ({"headers": HEADERS[code]} if code in HEADERS else {})
                for code, text in ERRORS.items()
            },
        },
    }
