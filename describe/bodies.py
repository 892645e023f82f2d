"""The REST API's own JSON shapes: request bodies (closed, as the service refuses unknown fields) and
the answers only REST gives. The objects the sockets carry too, and the REST answers core/shapes.py types
(generated from its TypedDicts), live in describe/shapes.py.

Request bodies stay written out here: what they say is what the service accepts (lengths, ranges, "12.50" or
12.5), checked by domain/validate.py, not a type's fields.
"""

from __future__ import annotations

from core.auth import ROLES
from describe.json_schema import Schema, array, enum, nullable, obj, ref
from describe.shapes import BOOLEAN, ID, MONEY, PREP_MINUTES, REST_OBJECTS, STATION, TEXT, TIMESTAMP
from domain.broadcasts import LEVELS
from domain.customer_orders import ORDER_TYPES
from domain.kitchen import TASK_STATUSES
from domain.orders import MAX_REASON, PAYMENT_METHODS, STATUSES
from domain.orders import ORDER_TYPES as ALL_ORDER_TYPES
from domain.validate import MAX_INT, MONEY_TEXT, SPACE

# Text the service takes: not blank (it is stripped), no NUL character.
SOME_TEXT = rf"^[^\u0000]*[^{SPACE}\u0000][^\u0000]*$"
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": SOME_TEXT}
EMAIL: Schema = {"type": "string", "minLength": 3, "maxLength": 254, "pattern": r"^[^\u0000]*@[^\u0000]*$"}
SECRET: Schema = {**NAME, "maxLength": 128}
# At least 8 characters once stripped, at most 128, no NUL.
PASSWORD: Schema = {
    "type": "string",
    "minLength": 8,
    "maxLength": 128,
    "pattern": rf"^[{SPACE}]*[^{SPACE}\u0000][^\u0000]{{6,}}[^{SPACE}\u0000][{SPACE}]*$",
}
CITY_IDS = array({"type": "integer", "minimum": 1, "maximum": MAX_INT})
PRICE: Schema = {
    "anyOf": [
        {"type": "string", "pattern": MONEY_TEXT},
        {"type": "number", "minimum": 0, "maximum": MAX_INT // 100, "multipleOf": 0.01},
    ],
    "description": 'at most two decimals: "12.50", 12.5 or 12 (at most 10000000.00)',
}
GUESTS: Schema = {"type": "integer", "minimum": 1, "maximum": 1000}
QUANTITY: Schema = {"type": "integer", "minimum": 1, "maximum": 100}
# A payment's amount: as PRICE, and more than zero.
AMOUNT: Schema = {
    "anyOf": [
        {"type": "string", "pattern": rf"(?!^[{SPACE}]*0*(?:\.0*)?[{SPACE}]*$)" + MONEY_TEXT},
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_INT // 100, "multipleOf": 0.01},
    ],
    "description": 'more than 0, at most two decimals: "12.50", 12.5 or 12 (at most 10000000.00)',
}
LINES = {
    "type": "array",
    "maxItems": 100,
    "items": obj({"menu_item": ID}, {"quantity": QUANTITY}),
    "description": "at most MAX_PORTIONS_PER_ORDER portions (the sum of quantities; 200 unless configured), else 400",
}

REQUESTS: dict[str, Schema] = {
    "Login": obj({"email": EMAIL, "password": SECRET}),
    "Refresh": obj({"refresh": {**NAME, "maxLength": 4096}}),
    # A browser session sends none: the refresh cookie says it.
    "SessionRefresh": obj({}, {"refresh": {**NAME, "maxLength": 4096}}),
    "PasswordChange": obj({"old_password": SECRET, "new_password": PASSWORD}),
    "NewBranch": obj({"name": NAME, "city_id": {"type": "integer", "minimum": 1, "maximum": MAX_INT}}),
    "NewUser": obj(
        {"email": EMAIL, "password": PASSWORD, "role": enum(ROLES)},
        {"branch": nullable(ID), "city_ids": CITY_IDS},
    ),
    # PATCH /api/users/<id>/: any of them; a real change revokes every token of the user.
    "UserChange": obj({}, {"role": enum(ROLES), "branch": nullable(ID), "city_ids": CITY_IDS, "is_active": BOOLEAN}),
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
    "NewMenuItem": obj(
        {"title": NAME, "price": PRICE},
        {"branch": nullable(ID), "is_active": BOOLEAN, "station": STATION, "prep_minutes": nullable(PREP_MINUTES)},
    ),
    "MenuItemChange": obj(
        {},
        {
            "title": NAME,
            "price": PRICE,
            "is_active": BOOLEAN,
            "station": STATION,
            "prep_minutes": nullable(PREP_MINUTES),
        },
    ),
    "NewClient": obj({"name": NAME, "phone": {**NAME, "maxLength": 32}}),
    "NewOrder": obj(
        {},
        {
            "table": nullable(ID),
            "guests": GUESTS,
            "client": nullable(ID),
            "waiter": nullable(ID),
            "items": LINES,
            "branch": nullable(ID),
            "type": {**enum(ALL_ORDER_TYPES), "description": "dine_in by default with a table, else pickup"},
        },
    ),
    # `branch` defaults to the customer's home branch; `type` is how the order reaches it (pickup by default).
    "NewCustomerOrder": obj(
        {"items": LINES},
        {"branch": nullable(ID), "guests": GUESTS, "bonuses_used": PRICE, "type": enum(ORDER_TYPES)},
    ),
    # POST /api/cafe/orders/ takes the one that fits the user: staff place NewOrder, customers NewCustomerOrder.
    "NewAnyOrder": {"anyOf": [ref("NewOrder"), ref("NewCustomerOrder")]},
    "OrderChange": obj(
        {},
        {
            "status": enum(STATUSES),
            "guests": GUESTS,
            "waiter": nullable(ID),
            "client": nullable(ID),
            "table": nullable(ID),
            "reason": {
                **NAME,
                "maxLength": MAX_REASON,
                "description": "why: required (owners, admins, managers) when closing with money due (a comp) "
                "or cancelling after the kitchen started (a void); ignored otherwise",
            },
        },
    ),
    "Payment": obj({"amount": AMOUNT}, {"method": enum(PAYMENT_METHODS), "close": BOOLEAN}),
    "NewOrderItem": obj({"order": ID, "menu_item": ID}, {"quantity": QUANTITY}),
    "OrderItemChange": obj({"quantity": QUANTITY}),
    "KitchenTaskChange": obj({"status": enum(TASK_STATUSES)}),
    "NewBroadcast": obj(
        {"message": {**NAME, "maxLength": 1000}},
        {"level": enum(LEVELS), "branch": nullable(ID)},
    ),
}

RESPONSES: dict[str, Schema] = REST_OBJECTS | {
    "Error": obj({"detail": {"anyOf": [TEXT, {"type": "object", "additionalProperties": array(TEXT)}]}}),
    "Tokens": obj({"access": TEXT, "refresh": TEXT}),
    # Login: the tokens as before, and the CSRF token of the browser session its cookies hold.
    "LoginTokens": obj({"access": TEXT, "refresh": TEXT, "csrfToken": TEXT}),
    "CsrfToken": obj({"csrfToken": TEXT}),
    "SessionRefreshed": obj({"ok": BOOLEAN, "csrfToken": TEXT}),
    "Session": obj({"user": ref("User")}),
    "LoggedOut": obj({"ok": BOOLEAN}),
    "WsTicket": obj({"ticket": TEXT, "expires_in": {"type": "integer", "description": "seconds the ticket lives"}}),
    "Health": obj({"database": enum(["ok", "down"]), "broker": enum(["ok", "down"])}, {"detail": TEXT}),
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
