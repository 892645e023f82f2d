"""storage/sql.py: which connection runs a statement, and the private attributes of the libraries it relies on."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiosqlite
import pytest
from databases import Database as DatabasesDatabase

from storage.sql import CHECKPOINT, CHECKPOINT_COMMITS, Database


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


def test_sqlite_begin_and_commit_run_on_the_loops_thread_and_the_writer_never_checkpoints(tmp_path: Path) -> None:
    """A transaction makes no trip to aiosqlite's thread; the WAL is checkpointed every CHECKPOINT_COMMITS
    transactions on the reader's thread instead of by a COMMIT on the loop's."""
    loop_thread = threading.get_ident()
    ran: list[tuple[str, str, bool]] = []

    def trace(name: str) -> Callable[[str], None]:
        def record(statement: str) -> None:
            if statement.split()[0].upper() in ("BEGIN", "COMMIT") or "wal_checkpoint" in statement:
                ran.append((name, statement, threading.get_ident() == loop_thread))

        return record

    async def scenario() -> int:
        database = Database(f"sqlite:///{tmp_path}/commits.db")
        await database.connect()
        try:
            assert database._writer and database._reader
            await database.execute("CREATE TABLE probe (id INTEGER)")
            autocheckpoint = database._writer.raw._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            database._writer.raw._conn.set_trace_callback(trace("writer"))
            database._reader.raw._conn.set_trace_callback(trace("reader"))
            for number in range(CHECKPOINT_COMMITS):
                async with database.transaction():
                    await database.execute("INSERT INTO probe (id) VALUES (:id)", {"id": number})
            for _ in range(50):
                if ("reader", CHECKPOINT, False) in ran:
                    break
                await asyncio.sleep(0.01)
            return int(autocheckpoint)
        finally:
            await database.disconnect()

    assert asyncio.run(scenario()) == 0
    on_the_writer = [entry for entry in ran if entry[0] == "writer"]
    assert on_the_writer == [("writer", "BEGIN IMMEDIATE", True), ("writer", "COMMIT", True)] * CHECKPOINT_COMMITS
    assert [entry for entry in ran if entry[0] == "reader"] == [("reader", CHECKPOINT, False)]


@contextlib.asynccontextmanager
async def write_locked_by_another_process(path: Path) -> AsyncIterator[tuple[Database, sqlite3.Connection]]:
    """A database with a `probe` table whose SQLite write lock a second connection (another process, as far as
    this one's Database knows) holds, by BEGIN IMMEDIATE, until the test COMMITs it."""
    database = Database(f"sqlite:///{path}")
    await database.connect()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        await database.execute("CREATE TABLE probe (id INTEGER)")
        other.execute("BEGIN IMMEDIATE")
        yield database, other
    finally:
        other.close()
        await database.disconnect()


async def write_probe(database: Database, value: int) -> None:
    async with database.transaction():
        await database.execute("INSERT INTO probe (id) VALUES (:id)", {"id": value})


def test_a_sqlite_write_waits_for_another_process_write_lock_off_the_loops_thread(tmp_path: Path) -> None:
    """Another process (here a second connection) holds SQLite's write lock: BEGIN waits for it on aiosqlite's
    thread, and the loop goes on serving meanwhile."""

    async def scenario() -> tuple[int, list[dict[str, int]]]:
        async with write_locked_by_another_process(tmp_path / "locked.db") as (database, other):
            ticks = 0
            writing = asyncio.create_task(write_probe(database, 1))
            while ticks < 20:  # the loop is not blocked while the write waits for the lock
                await asyncio.sleep(0.01)
                ticks += 1
            assert not writing.done()
            other.execute("COMMIT")
            await asyncio.wait_for(writing, 5)
            return ticks, await database.fetch_all("SELECT id FROM probe")

    assert asyncio.run(scenario()) == (20, [{"id": 1}])


def test_a_sqlite_write_cancelled_while_it_waits_for_the_lock_leaves_nothing_open(tmp_path: Path) -> None:
    """A write waiting (on aiosqlite's thread) for another process's write lock is cancelled: the BEGIN the thread
    still finishes is rolled back before the next writer may go, so the next write commits as usual."""

    async def scenario() -> list[dict[str, int]]:
        async with write_locked_by_another_process(tmp_path / "cancelled.db") as (database, other):
            waiting = asyncio.create_task(write_probe(database, 1))
            await asyncio.sleep(0.2)
            waiting.cancel()
            # The other process lets go while the cancelled BEGIN is still waiting on the thread: it gets the lock.
            await asyncio.sleep(0.05)
            other.execute("COMMIT")
            with contextlib.suppress(asyncio.CancelledError):
                await waiting
            await asyncio.wait_for(write_probe(database, 2), 5)
            return await database.fetch_all("SELECT id FROM probe")

    assert asyncio.run(scenario()) == [{"id": 2}]
