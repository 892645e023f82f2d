"""A text as a server-sent event: `id:` (its `event_id`), `event:` (its `type`) and `data:` lines."""

from __future__ import annotations

import json
from functools import lru_cache

# Pushed through the outlet like a frame, so it queues behind what is waiting; written as a comment.
PING = ": ping"
PING_FRAME = b": ping\n\n"


@lru_cache(maxsize=8)
def event_frame(text: str) -> bytes:
    """A text as one server-sent event. The hub hands an event's text to its clients one after the other,
    so it is encoded once however many streams it goes to."""
    try:
        message = json.loads(text)
    except ValueError:
        message = None
    lines = []
    if isinstance(message, dict):
        position, kind = message.get("event_id"), message.get("type")
        if isinstance(position, int) and not isinstance(position, bool):
            lines.append(f"id: {position}")
        if isinstance(kind, str) and kind and kind.isprintable():
            lines.append(f"event: {kind}")
    # json.dumps never writes a raw line break, but a data line must not hold one.
    lines += [f"data: {line}" for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return ("\n".join(lines) + "\n\n").encode()
