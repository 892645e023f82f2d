"""The schema applied at start: idempotent, and it brings a database made by an older release up to date."""

from __future__ import annotations

import asyncio

from databases import Database

from domain.db import connect_database, normalize_database_url


def test_an_existing_database_gets_the_new_columns(database_url):
    """A database made before is_active and token_version: its users table is left by CREATE TABLE IF NOT EXISTS."""

    async def scenario() -> list[int]:
        old = Database(normalize_database_url(database_url))
        await old.connect()
        await old.execute(
            "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, "
            "role TEXT NOT NULL, company_id TEXT, branch_id TEXT, created_at TEXT NOT NULL)"
        )
        await old.execute(
            "INSERT INTO users VALUES ('00000000-0000-4000-8000-000000000001', 'old@test.cafe', 'x', 'waiter', "
            "NULL, NULL, '2026-01-01T00:00:00.000000Z')"
        )
        await old.disconnect()
        for _ in range(2):  # and again: idempotent
            upgraded = await connect_database(database_url)
            row = await upgraded.fetch_one("SELECT is_active, token_version FROM users WHERE email = 'old@test.cafe'")
            await upgraded.disconnect()
        assert row is not None
        return [row["is_active"], row["token_version"]]

    assert asyncio.run(scenario()) == [1, 0]
