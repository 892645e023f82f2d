"""The database URL and the small value helpers every domain module shares (the schema: storage/migrations.py)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

CENTS_TEXT = re.compile(r"-?[0-9]{1,13}\.[0-9]{2}")


def normalize_database_url(url: str) -> str:
    """Heroku hands out postgres://; the drivers want postgresql://."""
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


def new_id() -> str:
    return str(uuid.uuid4())


def utc_later(seconds: float) -> str:
    return utc_now(seconds_ago=-seconds)


def utc_now(seconds_ago: float = 0.0) -> str:
    """`2026-12-04T05:11:00.123456Z`: ISO 8601 in UTC, always with microseconds, so texts sort as times."""
    moment = datetime.now(UTC).replace(tzinfo=None)
    if seconds_ago:
        moment -= timedelta(seconds=seconds_ago)
    # isoformat() is half the CPU of strftime(), and every row and event of a write stamps a time.
    return moment.isoformat(timespec="microseconds") + "Z"


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def parse_cents(value: object) -> int | None:
    """A money amount as "12.50", 12.5 or 12 -> 1250; None when it is not a valid amount."""
    # The form format_cents writes, which the events read back for every order: no Decimal needed.
    if isinstance(value, str) and CENTS_TEXT.fullmatch(value):
        return int(value.replace(".", "", 1))
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    # Bounded before quantize(), which raises on an exponent like 1e400 instead of answering.
    if not amount.is_finite() or abs(amount) >= 10**15 or amount != amount.quantize(Decimal("0.01")):
        return None
    return int(amount * 100)
