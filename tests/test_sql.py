"""storage/sql.py: which connection runs a statement, and the private attributes of the libraries it relies on."""

from __future__ import annotations

import asyncio
import contextvars
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import aiosqlite
import pytest
from databases import Database as DatabasesDatabase

from storage.sql import Database


def test_the_private_attributes_sql_py_reaches_are_still_there(tmp_path: Path) -> None:
    """Pinned: sql.py opens `databases` connections by its `_backend` and runs SQLite statements on the loop's
    thread through aiosqlite's `_conn`. An upgrade of either library that moves them fails here first."""
    assert hasattr(DatabasesDatabase(f"sqlite:///{tmp_path}/pin.db"), "_backend")

    async def scenario() -> None:
        database = Database(f"sqlite:///{tmp_path}/pin.db")
        await database.connect()
        try:
            assert database._writer is not None
            raw = database._writer.raw
            assert isinstance(raw, aiosqlite.Connection)
            assert isinstance(raw._conn, sqlite3.Connection)
        finally:
            await database.disconnect()

    asyncio.run(scenario())


def test_sqlite_statements_run_where_the_module_says(tmp_path: Path) -> None:
    """Lists beside the writer on aiosqlite's thread; point reads on the loop's thread; writes, and everything
    inside a transaction, on the writer (a transaction's statements on the loop's thread)."""
    ran: list[tuple[str, str, bool]] = []
    loop_thread = threading.get_ident()

    def trace(name: str) -> Callable[[str], None]:
        def record(statement: str) -> None:
            if "probe" in statement:
                ran.append((name, statement.split()[0].upper(), threading.get_ident() == loop_thread))

        return record

    async def scenario() -> None:
        database = Database(f"sqlite:///{tmp_path}/choice.db")
        await database.connect()
        try:
            assert database._writer and database._reader and database._point_reader
            for name, session in (
                ("writer", database._writer),
                ("reader", database._reader),
                ("point reader", database._point_reader),
            ):
                session.raw._conn.set_trace_callback(trace(name))
            await database.execute("CREATE TABLE probe (id INTEGER)")
            await database.fetch_all("SELECT id FROM probe")
            await database.fetch_one("SELECT id FROM probe")
            async with database.transaction():
                await database.execute("INSERT INTO probe (id) VALUES (1)")
                inside = await database.fetch_one("SELECT id FROM probe")
                # A task started here inherits the context, so it joins the transaction; one started in a
                # fresh context (as socket senders are) reads beside it and does not see the uncommitted row.
                joined = await asyncio.create_task(database.fetch_all("SELECT id FROM probe"))
                fresh = contextvars.Context()
                outside = await asyncio.create_task(database.fetch_all("SELECT id FROM probe"), context=fresh)
            assert inside == {"id": 1} and joined == [{"id": 1}] and outside == []
        finally:
            await database.disconnect()

    asyncio.run(scenario())
    assert ran == [
        ("writer", "CREATE", False),
        ("reader", "SELECT", False),
        ("point reader", "SELECT", True),
        ("writer", "INSERT", True),
        ("writer", "SELECT", True),
        ("writer", "SELECT", True),
        ("reader", "SELECT", False),
    ]


def test_a_transaction_holds_one_connection_and_refuses_a_second_in_the_same_task(database_url: str) -> None:
    async def scenario() -> None:
        database = Database(database_url)
        await database.connect()
        try:
            await database.execute("CREATE TABLE probe (id INTEGER)")
            async with database.transaction() as session:
                await database.execute("INSERT INTO probe (id) VALUES (1)")
                assert await session.fetch_all("SELECT id FROM probe") == [{"id": 1}]
                with pytest.raises(RuntimeError, match="already open"):
                    async with database.transaction():
                        pass
            with pytest.raises(ZeroDivisionError):
                async with database.transaction():
                    await database.execute("INSERT INTO probe (id) VALUES (2)")
                    raise ZeroDivisionError
            assert await database.fetch_all("SELECT id FROM probe") == [{"id": 1}]
        finally:
            await database.disconnect()

    asyncio.run(scenario())
