"""Database connection, schema, and the small value helpers every domain module shares."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from domain.sql import Database

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.sql"
# Any constant works: it only keeps two processes from applying the schema at the same moment.
SCHEMA_LOCK_KEY = 4_211_705
ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", re.IGNORECASE)
SQLITE_HAS_COLUMN = "SELECT 1 AS found FROM pragma_table_info(:table) WHERE name = :column"
POSTGRES_HAS_COLUMN = """
SELECT 1 AS found FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = :table AND column_name = :column
"""


def normalize_database_url(url: str) -> str:
    """Heroku hands out postgres://; the drivers want postgresql://."""
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


def schema_statements() -> list[str]:
    lines = [line for line in SCHEMA_PATH.read_text().splitlines() if not line.lstrip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


async def connect_database(url: str) -> Database:
    """Connect and make sure the schema exists (idempotent)."""
    database = Database(normalize_database_url(url))
    await database.connect()
    async with database.transaction():
        if not database.is_sqlite:
            await database.execute("SELECT pg_advisory_xact_lock(:key)", {"key": SCHEMA_LOCK_KEY})
        for statement in schema_statements():
            await _apply(database, statement, SQLITE_HAS_COLUMN if database.is_sqlite else POSTGRES_HAS_COLUMN)
    return database


async def _apply(database: Database, statement: str, has_column: str) -> None:
    """Run one schema statement; an ADD COLUMN only where the column is still missing."""
    added = ADD_COLUMN.match(statement)
    if added and await database.fetch_one(has_column, {"table": added[1], "column": added[2]}) is not None:
        return
    await database.execute(statement)


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
