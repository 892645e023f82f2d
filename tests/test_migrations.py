"""The migration runner: once each, in order, under a lock; a failed one leaves nothing; a newer database refused."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.values import normalize_database_url
from storage.migrations import MIGRATIONS_PATH, MigrationReport, SchemaError, load_migrations, migrate, open_database
from storage.sql import Database

ROOT = Path(__file__).resolve().parent.parent
NEWEST = load_migrations()[-1].version


async def connected(url: str) -> Database:
    database = Database(normalize_database_url(url))
    await database.connect()
    return database


async def versions(url: str) -> list[int]:
    database = await connected(url)
    try:
        return [row["version"] for row in await database.fetch_all("SELECT version FROM schema_migrations ORDER BY 1")]
    finally:
        await database.disconnect()


def test_migrate_twice_applies_nothing_the_second_time(database_url: str) -> None:
    async def scenario() -> tuple[MigrationReport, MigrationReport]:
        database = await connected(database_url)
        try:
            return await migrate(database), await migrate(database)
        finally:
            await database.disconnect()

    first, second = asyncio.run(scenario())
    assert (first.before, first.after, len(first.applied)) == (0, NEWEST, NEWEST)
    assert (second.before, second.after, second.applied) == (NEWEST, NEWEST, ())
    assert asyncio.run(versions(database_url)) == list(range(1, NEWEST + 1))


def test_several_processes_starting_at_once_migrate_each_step_once(database_url: str) -> None:
    async def scenario() -> list[MigrationReport]:
        databases = [await connected(database_url) for _ in range(3)]
        try:
            return list(await asyncio.gather(*(migrate(database) for database in databases)))
        finally:
            for database in databases:
                await database.disconnect()

    reports = asyncio.run(scenario())
    applied = [name for report in reports for name in report.applied]
    assert sorted(applied) == [migration.name for migration in load_migrations()]
    assert all(report.after == NEWEST for report in reports)


def test_a_failed_migration_leaves_the_database_as_it_was(database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_PATH, folder)
    (folder / f"{NEWEST + 1:04d}_half_done.sql").write_text(
        "CREATE TABLE half_done (id TEXT PRIMARY KEY);\n"
        "UPDATE users SET role = 'owner';\n"
        "SELECT * FROM no_such_table;\n"
    )
    asyncio.run(_open_and_close(database_url))
    asyncio.run(_add_user(database_url))

    async def scenario() -> None:
        database = await connected(database_url)
        try:
            await migrate(database, load_migrations(folder))
        finally:
            await database.disconnect()

    with pytest.raises(SchemaError, match=rf"{NEWEST + 1:04d}_half_done failed.*stays at version {NEWEST}"):
        asyncio.run(scenario())
    assert asyncio.run(versions(database_url)) == list(range(1, NEWEST + 1))
    assert asyncio.run(_table_and_role(database_url)) == (False, "waiter")


async def _add_user(url: str) -> None:
    database = await connected(url)
    try:
        await database.execute(
            "INSERT INTO users (id, email, password_hash, role, created_at) "
            "VALUES ('u1', 'kept@test.cafe', 'x', 'waiter', '2026-01-01T00:00:00.000000Z')"
        )
    finally:
        await database.disconnect()


async def _table_and_role(url: str) -> tuple[bool, str]:
    database = await connected(url)
    try:
        if database.is_sqlite:
            found = await database.fetch_one("SELECT 1 AS found FROM sqlite_master WHERE name = 'half_done'")
        else:
            found = await database.fetch_one("SELECT to_regclass('half_done') AS found")
            found = found if found and found["found"] else None
        role = await database.fetch_one("SELECT role FROM users WHERE email = 'kept@test.cafe'")
        assert role is not None
        return found is not None, role["role"]
    finally:
        await database.disconnect()


def test_a_database_newer_than_the_code_is_refused_naming_both_versions(database_url: str) -> None:
    asyncio.run(_open_and_close(database_url))
    asyncio.run(_record_version(database_url, NEWEST + 5))
    with pytest.raises(SchemaError, match=rf"version {NEWEST + 5}, newer than this code's {NEWEST}"):
        asyncio.run(_open_and_close(database_url))


async def _open_and_close(url: str) -> None:
    await (await open_database(url)).disconnect()


async def _record_version(url: str, version: int) -> None:
    database = await connected(url)
    try:
        await database.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:version, 'from_the_future', 'x')",
            {"version": version},
        )
    finally:
        await database.disconnect()


def test_an_unversioned_database_with_part_of_the_schema_is_adopted(database_url: str) -> None:
    """Made before schema_migrations: a users table without is_active and token_version, as the first release had."""

    async def scenario() -> list[int]:
        database = await connected(database_url)
        await database.execute(
            "CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, "
            "role TEXT NOT NULL, company_id TEXT, branch_id TEXT, created_at TEXT NOT NULL)"
        )
        await database.execute(
            "INSERT INTO users VALUES ('u1', 'old@test.cafe', 'x', 'waiter', NULL, NULL, '2026-01-01T00:00:00.000000Z')"
        )
        await migrate(database)
        row = await database.fetch_one("SELECT is_active, token_version FROM users WHERE email = 'old@test.cafe'")
        await database.disconnect()
        assert row is not None
        return [row["is_active"], row["token_version"]]

    assert asyncio.run(scenario()) == [1, 0]


def test_migration_files_are_numbered_without_a_gap(tmp_path: Path) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE a (id TEXT);\n")
    (tmp_path / "0003_third.sql").write_text("CREATE TABLE c (id TEXT);\n")
    with pytest.raises(SchemaError, match="0002 is missing"):
        load_migrations(tmp_path)


def test_the_migrate_command_and_serve_say_why_they_refuse(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/cafe.db", "BROADCAST_URL": "memory://"}
    env.pop("REDIS_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "cafe_rt.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )

    first, again = run("migrate"), run("migrate")
    assert first.returncode == 0 and f"-> {NEWEST}: applied 0001_" in first.stdout, first.stderr
    assert again.returncode == 0 and f"up to date (version {NEWEST})" in again.stdout
    asyncio.run(_record_version(env["DATABASE_URL"], NEWEST + 1))
    for refused in (run("migrate"), run("serve", "--port", "0")):
        assert refused.returncode == 1
        assert f"version {NEWEST + 1}, newer than this code's {NEWEST}" in refused.stderr
