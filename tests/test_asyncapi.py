"""GET /asyncapi.json: a well-formed AsyncAPI 3.0 document with a channel per socket URL.

No PyPI package ships the official AsyncAPI 3.0 JSON Schema, so the document's structure is checked
with jsonschema against the parts of the 3.0 specification it uses (ASYNCAPI_3), and every payload
against the JSON Schema draft-07 metaschema. That every frame the service sends matches it is checked
by every test (tests/frames.py, hooked in conftest.py).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient

from describe.asyncapi import document
from realtime.stream import EventStream
from tests.factory import ok
from tests.frames import frame_checker

KEY = "^[A-Za-z0-9_\\-]+$"
REF = {"type": "object", "required": ["$ref"], "properties": {"$ref": {"type": "string"}}}
ASYNCAPI_3: dict[str, Any] = {
    "type": "object",
    "required": ["asyncapi", "info", "channels", "operations", "components"],
    "properties": {
        "asyncapi": {"const": "3.0.0"},
        "info": {"type": "object", "required": ["title", "version"]},
        "defaultContentType": {"type": "string"},
        "servers": {
            "type": "object",
            "additionalProperties": {"type": "object", "required": ["host", "protocol"]},
        },
        "channels": {
            "type": "object",
            "propertyNames": {"pattern": KEY},
            "additionalProperties": {
                "type": "object",
                "required": ["address", "messages"],
                "properties": {
                    "address": {"type": "string"},
                    "messages": {"type": "object", "propertyNames": {"pattern": KEY}, "additionalProperties": REF},
                    "parameters": {
                        "type": "object",
                        "additionalProperties": {"type": "object", "properties": {"description": {"type": "string"}}},
                    },
                    "bindings": {"type": "object", "properties": {"ws": {"type": "object"}}},
                },
            },
        },
        "operations": {
            "type": "object",
            "propertyNames": {"pattern": KEY},
            "additionalProperties": {
                "type": "object",
                "required": ["action", "channel"],
                "properties": {
                    "action": {"enum": ["send", "receive"]},
                    "channel": REF,
                    "messages": {"type": "array", "items": REF},
                },
            },
        },
        "components": {
            "type": "object",
            "properties": {
                "schemas": {"type": "object", "propertyNames": {"pattern": KEY}},
                "messages": {
                    "type": "object",
                    "propertyNames": {"pattern": KEY},
                    "additionalProperties": {
                        "type": "object",
                        "required": ["payload"],
                        "properties": {"name": {"type": "string"}, "payload": {"type": "object"}},
                    },
                },
                "securitySchemes": {"type": "object", "additionalProperties": {"type": "object", "required": ["type"]}},
            },
        },
    },
}


def refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["$ref"]] if "$ref" in value else []
        return found + [ref for item in value.values() for ref in refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in refs(item)]
    return []


# The documents do not depend on the database: one is enough.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_asyncapi_document_is_served(client: TestClient):
    assert ok(client.get("/asyncapi.json")) == document()


def test_asyncapi_document_is_well_formed():
    doc = document()
    Draft7Validator.check_schema(ASYNCAPI_3)
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in Draft7Validator(ASYNCAPI_3).iter_errors(doc)]
    assert errors == []
    resolver = Registry().with_resource("urn:doc", DRAFT7.create_resource(doc)).resolver("urn:doc")
    for ref in refs(doc):
        resolver.lookup(ref)  # raises when a reference leads nowhere
    for message in doc["components"]["messages"].values():
        Draft7Validator.check_schema(message["payload"])
    for key, operation in doc["operations"].items():
        channel = operation["channel"]["$ref"]
        assert all(ref["$ref"].startswith(f"{channel}/messages/") for ref in operation["messages"]), key
    for key, channel in doc["channels"].items():
        assert set(re.findall(r"{(\w+)}", channel["address"])) == set(channel.get("parameters", {})), key


def test_every_message_says_its_type_as_a_const():
    """A frame is matched to its message by `type` (client frames of the feeds and entities: `action`)."""
    for name, message in document()["components"]["messages"].items():
        payload = message["payload"]
        if name == "error":  # {"error": "..."}, the seed's shape: the one frame with no type
            assert payload["required"] == ["error"]
            continue
        kind = payload["properties"].get("type") or payload["properties"]["action"]
        assert "const" in kind and message["name"] == kind["const"], name


def test_every_payload_has_a_title_of_its_own():
    """Generators name models by the payload's title; without one they make AnonymousSchema_N."""
    titles = [message["payload"].get("title") for message in document()["components"]["messages"].values()]
    assert all(titles) and len(set(titles)) == len(titles)


def test_every_message_is_on_a_channel_and_types_are_unique_per_channel():
    doc = document()
    used = {ref.rsplit("/", 1)[1] for channel in doc["channels"].values() for ref in refs(channel["messages"])}
    assert used == set(doc["components"]["messages"])
    for key, operation in doc["operations"].items():
        names = [ref["$ref"].rsplit("/", 1)[1] for ref in operation["messages"]]
        kinds = [doc["components"]["messages"][name]["name"] for name in names]
        assert len(kinds) == len(set(kinds)), key


@SQLITE_ONLY
def test_asyncapi_has_a_channel_for_every_socket_url(client: TestClient):
    app = client.app
    assert isinstance(app, Starlette)
    served = {route.path for route in app.routes if isinstance(route, WebSocketRoute)}
    described = {channel["address"] for channel in document()["channels"].values()}
    assert served == described


@SQLITE_ONLY
def test_asyncapi_says_which_channels_are_also_event_streams(client: TestClient):
    app = client.app
    assert isinstance(app, Starlette)
    streamed = {route.path for route in app.routes if isinstance(route, Route) and isinstance(route.app, EventStream)}
    described = {
        channel["address"]
        for channel in document()["channels"].values()
        if {"$ref": "#/servers/events"} in channel["servers"]
    }
    assert streamed == described == {route.path for route in app.routes if isinstance(route, WebSocketRoute)}


@pytest.mark.parametrize(
    ("path", "frame"),
    [
        ("/ws/cafe/orders/", '{"type": "no_such_message"}'),
        ("/ws/cafe/orders/", '{"type": "order_created", "data": {"order": {}}, "event_id": 1}'),
        ("/ws/cafe/orders/", '{"type": "table_created", "data": {}, "event_id": 1}'),  # a tables-feed message
        ("/ws/tables/sessions/0/", '{"type": "pong", "extra": 1}'),
        ("/", '{"error": "the feeds\' error shape, not the rooms socket\'s"}'),
        ("/ws/orders/1/", "not json"),
    ],
)
def test_a_frame_that_matches_no_message_is_caught(path: str, frame: str):
    assert frame_checker().mismatch(path, frame) is not None
