"""Kitchen stations: the slug that names one (kitchen, bar, cold)."""

from __future__ import annotations

import re

from core.errors import Invalid

DEFAULT_STATION = "kitchen"
# A slug goes into channel names (space-separated in the outbox) and URLs: lower-case words and dashes.
STATION_SLUG = re.compile(r"[a-z0-9]+(?:[-_][a-z0-9]+)*")
MAX_STATION = 32
STATION_RULE = "Must be a station slug: lower-case letters, digits, - or _, at most 32 characters (like bar)."


def is_station(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_STATION and STATION_SLUG.fullmatch(value) is not None


def station_query(query: dict[str, str]) -> str | None:
    """`?station=` of a listing: None when absent; 400 when it is not a slug."""
    station = query.get("station")
    if station is None or station == "":
        return None
    if not is_station(station):
        raise Invalid({"station": [STATION_RULE]})
    return station
