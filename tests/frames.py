"""Every frame a test receives is checked against /asyncapi.json: it must match a message of its socket.

`FrameChecker.check(path, text)` finds the channel whose address matches the socket's path and the
messages that channel sends; a frame that validates against none of them is a mismatch. conftest.py
hooks it into the TestClient's and the `websockets` client's receive, so every test checks its frames.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT7

from describe.asyncapi import document

DOCUMENT_URI = "urn:cafe-rt:asyncapi"
# Every format jsonschema knows (uuid and date-time included), not only draft-07's.
FORMATS = FormatChecker()


@dataclass
class FrameChecker:
    channels: list[tuple[re.Pattern[str], str, dict[str, Draft7Validator]]]
    mismatches: list[str] = field(default_factory=list)

    def messages_for(self, path: str) -> tuple[str, dict[str, Draft7Validator]]:
        for address, key, validators in self.channels:
            if address.fullmatch(path):
                return key, validators
        raise AssertionError(f"no channel of /asyncapi.json has the address {path!r}")

    def mismatch(self, path: str, text: str) -> str | None:
        """None when the frame is one of the messages its socket sends, else why not."""
        key, validators = self.messages_for(path.split("?", 1)[0])
        try:
            frame = json.loads(text)
        except ValueError:
            return f"{key}: a frame that is not JSON: {text[:200]!r}"
        if any(validator.is_valid(frame) for validator in validators.values()):
            return None
        kind = frame.get("type") if isinstance(frame, dict) else None
        same_kind = [name for name, validator in validators.items() if _kind_of(validator) == kind]
        if not same_kind:
            return f"channel {key} sends no message of type {kind!r}: {text[:300]}"
        errors = [
            f"{name}: {error.message} at {list(error.absolute_path)}"
            for name in same_kind
            for error in validators[name].iter_errors(frame)
        ]
        return f"channel {key}: {text[:300]}\n  " + "\n  ".join(errors[:5])

    def check(self, path: str, text: str) -> None:
        problem = self.mismatch(path, text)
        if problem is not None:
            self.mismatches.append(problem)
            raise AssertionError(f"a frame matches no message of /asyncapi.json: {problem}")


def _kind_of(validator: Draft7Validator) -> Any:
    schema = validator.schema
    return schema.get("x-type") if isinstance(schema, Mapping) else None


@cache
def _compiled() -> list[tuple[re.Pattern[str], str, dict[str, Draft7Validator]]]:
    doc = document()
    registry: Registry = Registry().with_resource(DOCUMENT_URI, DRAFT7.create_resource(doc))
    channels = []
    for key, channel in doc["channels"].items():
        address = re.compile(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(channel["address"])))
        sent = {ref["$ref"].rsplit("/", 1)[1] for ref in _sent_messages(doc, key)}
        validators = {}
        for name in sorted(sent):
            payload = doc["components"]["messages"][name]["payload"]
            kind = payload["properties"].get("type", {}).get("const")
            schema = {"$ref": f"{DOCUMENT_URI}#/components/messages/{name}/payload", "x-type": kind}
            validators[name] = Draft7Validator(schema, registry=registry, format_checker=FORMATS)
        channels.append((address, key, validators))
    return channels


def _sent_messages(doc: dict[str, Any], channel_key: str) -> list[dict[str, str]]:
    """The messages of the server's `send` operations on the channel."""
    refs: list[dict[str, str]] = []
    for operation in doc["operations"].values():
        if operation["action"] == "send" and operation["channel"]["$ref"] == f"#/channels/{channel_key}":
            refs += operation["messages"]
    return refs


def frame_checker() -> FrameChecker:
    return FrameChecker(_compiled())


# The checker of the running test (tests/conftest.py sets it); real-socket helpers report to it too.
active: FrameChecker | None = None


def received(path: str, text: str) -> None:
    """A text frame a test got from the socket at `path`: it must match the socket's messages."""
    if active is not None:
        active.check(path, text)
