"""The AsyncAPI 3.0 document of the three socket dialects, served at GET /asyncapi.json.

describe/messages.py holds every frame (`MESSAGES`, keyed by its `type`); `CHANNELS` here holds one
entry per socket URL, naming the messages it sends and takes. To add a message, add its line to
`MESSAGES` and its key to the `sends` (or `receives`) of the channels that carry it; the test suite
checks every frame it receives against this document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from describe.json_schema import Schema
from describe.messages import MESSAGES
from describe.shapes import SCHEMAS, STATION


@dataclass(frozen=True)
class Channel:
    """A socket URL: the MESSAGES keys the server `sends` on it and those it `receives` from clients."""

    address: str
    title: str
    sends: tuple[str, ...]
    receives: tuple[str, ...]
    branch_query: bool = False
    # Also served as server-sent events (GET with Accept: text/event-stream): the `sends`, read-only.
    streamed: bool = True
    station_query: bool = False


FEED_SENDS = ("connection_established", "pong", "error", "token_refreshed", "resync_required")
FEED_TAKES = ("action-ping", "action-refresh_token")
ENTITY_SENDS = ("pong", "error", "token_refreshed", "resync_required")
ENTITY_TAKES = FEED_TAKES
NOTIFICATIONS = ("order_notification", "payment_notification", "alert")
ROOMS = Channel(
    "/",
    "The rooms socket (seed 004)",
    sends=(
        "connected",
        "pong",
        "room-error",
        "room-joined",
        "room-left",
        "token-refreshed",
        "resync_required",
        "new-order",
        "order-created",
        "order-status-updated",
        "bonus-updated",
        "menu-updated",
        "sync-success",
        "sync-error",
    ),
    receives=("ping", "join-room", "leave-room", "refresh-token"),
)

CHANNELS: dict[str, Channel] = {
    "cafe-orders": Channel(
        "/ws/cafe/orders/",
        "The orders feed",
        sends=(
            *FEED_SENDS,
            "order_created",
            "order_updated",
            "order_deleted",
            "table_status_changed",
            "kitchen_task_ready",
            "kitchen_task_late",
            "kitchen_screen_offline",
            "kitchen_screen_online",
        ),
        receives=FEED_TAKES,
        branch_query=True,
    ),
    "cafe-tables": Channel(
        "/ws/cafe/tables/",
        "The tables feed",
        sends=(*FEED_SENDS, "table_status_changed", "table_created", "table_updated"),
        receives=FEED_TAKES,
        branch_query=True,
    ),
    "cafe-kitchen": Channel(
        "/ws/cafe/kitchen/",
        "The kitchen feed",
        sends=(*FEED_SENDS, "kitchen_task_ready", "kitchen_task_created", "kitchen_task_updated", "kitchen_task_late"),
        receives=FEED_TAKES,
        branch_query=True,
        station_query=True,
    ),
    "order": Channel(
        "/ws/orders/{order_id}/",
        "One order (staff; a customer: its own order, read-only)",
        sends=(*ENTITY_SENDS, "order_status", "order_update", "order_items_update"),
        receives=(*ENTITY_TAKES, "action-get_status", "action-update_status"),
    ),
    "order-items": Channel(
        "/ws/orders/{order_id}/items/",
        "One order's items (staff; a customer: its own order's)",
        sends=(*ENTITY_SENDS, "items_list", "items_updated"),
        receives=(*ENTITY_TAKES, "action-get_items"),
    ),
    "table": Channel(
        "/ws/tables/{table_id}/",
        "One table",
        sends=(*ENTITY_SENDS, "table_status", "table_update"),
        receives=(*ENTITY_TAKES, "action-get_status", "action-occupy", "action-release"),
    ),
    "table-session": Channel(
        "/ws/tables/sessions/{session_id}/",
        "One table session",
        sends=(*ENTITY_SENDS, "session_status", "session_update"),
        receives=(*ENTITY_TAKES, "action-get_status", "action-update_guests_count", "action-close_session"),
    ),
    "waiter": Channel(
        "/ws/waiters/{waiter_id}/",
        "One waiter's notifications (the waiter; its managers, owners, admins)",
        sends=(*ENTITY_SENDS, "tasks_list", *NOTIFICATIONS, "task_notification", "notification_acknowledged"),
        receives=(*ENTITY_TAKES, "action-get_tasks", "action-acknowledge"),
    ),
    "restaurant": Channel(
        "/ws/restaurants/{restaurant_id}/",
        "One branch",
        sends=(
            *ENTITY_SENDS,
            "restaurant_status",
            "new_order",
            "order_ready",
            "payment_completed",
            "broadcast",
            "table_status",
        ),
        receives=(*ENTITY_TAKES, "action-get_status"),
    ),
    "restaurant-notifications": Channel(
        "/ws/restaurants/{restaurant_id}/notifications/",
        "One branch's notifications",
        sends=(*ENTITY_SENDS, *NOTIFICATIONS),
        receives=ENTITY_TAKES,
    ),
    "rooms": ROOMS,
    "rooms-ws": Channel("/ws/", "The rooms socket, also at /ws/", ROOMS.sends, ROOMS.receives),
    "rooms-socket": Channel("/socket", "The rooms socket, also at /socket", ROOMS.sends, ROOMS.receives),
}

QUERY = {
    "token": {"type": "string", "description": "an access token (or send `Authorization: Bearer`)"},
    "ticket": {
        "type": "string",
        "description": "a single-use ticket from POST /api/auth/ws-ticket, instead of a token",
    },
    "last_event_id": {
        "type": "string",
        "pattern": "^[0-9]+$",
        "description": "resume: replay every event after this one first (else resync_required)",
    },
}
BRANCH_QUERY = {
    "branch_id": {
        "type": "string",
        "format": "uuid",
        "description": "owners and admins: one branch's group instead of the company-level one",
    }
}


STREAM_QUERY = {
    "rooms": {
        "type": "string",
        "description": "rooms dialect, event streams only: comma-separated rooms joined from the start, each "
        "allowed as join-room is",
    }
}
STATION_QUERY = {
    "station": {
        **STATION,
        "description": "one station's portions: joins cafe_kitchen_{company}_{branch}_{station} (4404 if not a slug)",
    }
}


def _query(channel: Channel) -> dict[str, Any]:
    return QUERY | (BRANCH_QUERY if channel.branch_query else {}) | (STATION_QUERY if channel.station_query else {})


def _channel(channel: Channel) -> dict[str, Any]:
    query = _query(channel)
    servers = ["local", "events"] if channel.streamed else ["local"]
    described: dict[str, Any] = {
        "address": channel.address,
        "title": channel.title,
        "servers": [{"$ref": f"#/servers/{name}"} for name in servers],
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in (*channel.sends, *channel.receives)},
        "bindings": {
            "ws": {"method": "GET", "query": {"type": "object", "properties": query}, "bindingVersion": "0.1.0"}
        },
    }
    names = re.findall(r"{(\w+)}", channel.address)
    if names:
        described["parameters"] = {name: {"description": f"the {name.removesuffix('_id')}'s id"} for name in names}
    return described


def _operation(key: str, action: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{key}"},
        "messages": [{"$ref": f"#/channels/{key}/messages/{name}"} for name in names],
    }


def _message(key: str, summary: str, payload: Schema) -> dict[str, Any]:
    kind = payload["properties"].get("type") or payload["properties"].get("action")
    # A title per payload, so that code generators name their models after the message, not AnonymousSchema_N.
    # The rooms dialect spells its types with hyphens (new-order beside the entity sockets' new_order).
    rooms = "-" in key and not key.startswith("action-")
    title = ("Rooms" if rooms else "") + "".join(word.capitalize() for word in re.split(r"[_\-]", key) if word)
    return {
        "name": kind["const"] if kind else key,
        "title": title,
        "summary": summary,
        "payload": {"title": title, **payload},
    }


@cache
def document() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for key, channel in CHANNELS.items():
        operations[f"{key}-sends"] = _operation(key, "send", channel.sends)
        if channel.streamed:
            query = _query(channel) | (STREAM_QUERY if channel.sends == ROOMS.sends else {})
            operations[f"{key}-sends"]["bindings"] = {
                "http": {"method": "GET", "query": {"type": "object", "properties": query}, "bindingVersion": "0.3.0"}
            }
        operations[f"{key}-receives"] = _operation(key, "receive", channel.receives)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "cafe_rt sockets",
            "version": "1.0.0",
            "description": "The three WebSocket dialects of cafe_rt: the cafe feeds, the entity sockets and the "
            "rooms socket. Every frame is a JSON text; events carry `event_id` for resuming with "
            "`?last_event_id=`. Writes go over REST (/openapi.json). Operations are the server's: `send` is "
            "what the server sends, `receive` what it takes from clients. With CORS_ORIGINS set, a handshake "
            "whose `Origin` is not listed is refused with HTTP 403. Every channel is also served as server-sent "
            "events (the `events` server): the same frames, read-only.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "localhost:8000",
                "protocol": "ws",
                "description": "`cafe_rt.py serve`; wss behind TLS",
                "security": [
                    {"$ref": "#/components/securitySchemes/token"},
                    {"$ref": "#/components/securitySchemes/ticket"},
                    {"$ref": "#/components/securitySchemes/bearer"},
                ],
            },
            "events": {
                "host": "localhost:8000",
                "protocol": "http",
                "description": "Server-sent events: GET a channel's address with `Accept: text/event-stream` and "
                "the socket's credentials (a ticket is what EventSource can send). Each frame the server sends on "
                "the socket is one event: `id:` its `event_id`, `event:` its `type`, `data:` its JSON text; the "
                "connect message comes first; `Last-Event-ID` (or `?last_event_id=`) resumes; a `: ping` comment "
                "every 15 s (SSE_PING_INTERVAL); the stream ends where the socket would close (4003, 4008, 1012). "
                "Read-only: the `receive` operations are the WebSocket's only. A plain GET is answered 426.",
                "security": [
                    {"$ref": "#/components/securitySchemes/token"},
                    {"$ref": "#/components/securitySchemes/ticket"},
                    {"$ref": "#/components/securitySchemes/bearer"},
                ],
            },
        },
        "channels": {key: _channel(channel) for key, channel in CHANNELS.items()},
        "operations": operations,
        "components": {
            "schemas": SCHEMAS,
            "messages": {key: _message(key, summary, payload) for key, (summary, payload) in MESSAGES.items()},
            "securitySchemes": {
                "token": {"type": "httpApiKey", "in": "query", "name": "token", "description": "an access token"},
                "ticket": {
                    "type": "httpApiKey",
                    "in": "query",
                    "name": "ticket",
                    "description": "a single-use ticket from POST /api/auth/ws-ticket",
                },
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }
