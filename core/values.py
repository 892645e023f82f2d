"""The database URL and the small value helpers every domain module shares (the schema: storage/migrations.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation


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
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_cents(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    cents = abs(int(cents))
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def parse_cents(value: object) -> int | None:
    """A money amount as "12.50", 12.5 or 12 -> 1250; None when it is not a valid amount."""
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
