"""Raw SQL with `:named` parameters over `databases`' connections, without a compile step per statement.

`databases` 0.9 wraps every statement in SQLAlchemy's `text()` and compiles it on every call (27% of a
write's CPU on SQLite, 42% on PostgreSQL), and on SQLite it opens a new connection and thread for every
statement outside a transaction. Here a statement is translated once (`:name` to asyncpg's `$1`; SQLite
takes `:name` itself) and runs on the driver connection `databases` hands out:
- SQLite: three connections held for the life of the process: one that writes (one transaction at a time,
  which is all SQLite allows; its statements, BEGIN and COMMIT run on the loop's thread), one that reads lists
  beside it (WAL) on aiosqlite's thread, and one for point reads on the loop's thread. The writer does not
  checkpoint the WAL when it commits (that can flush to disk); the reader's thread does, every
  CHECKPOINT_COMMITS commits.
- PostgreSQL: a pool connection per transaction, or per statement outside one.
A transaction is bound to the context that opened it (a ContextVar): statements made there join it, as with
`databases`; tasks that must not inherit it (socket senders) start in a fresh context. Rows come back as
plain dicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from databases import Database as DatabasesDatabase
from databases.core import Connection

if TYPE_CHECKING:
    from asyncpg import Pool, Record

log = logging.getLogger("cafe_rt.sql")
# How long a request waits for a PostgreSQL connection from the pool before it is answered 503.
POOL_TIMEOUT = 5.0
# How long a SQLite statement waits for another process's write lock (ms).
BUSY_TIMEOUT_MS = 5000
# A WAL checkpoint after this many write transactions: about SQLite's own 1,000 pages, at some 25 an order.
CHECKPOINT_COMMITS = 40
CHECKPOINT = "PRAGMA wal_checkpoint(PASSIVE)"

# A row as the driver decodes it, and the values of a statement's :params: each column's value is the SQL's, so
# the one type that fits every statement is Any. Readers name a row's shape (a core/shapes.py TypedDict) where the
# SQL beside the read makes it true.
Row = dict[str, Any]
Values = Mapping[str, Any]
# The driver's own connection, aiosqlite's or asyncpg's, as `databases` hands it out: Any there
# (`Connection.raw_connection`, `_backend._pool`), and the two share no interface to name. Only the runners
# below (one per driver) and the transaction checks call it.
RawConnection = Any


class Statements(Protocol):
    """What runs statements: the Database, or a Session (a transaction's, as `change.db`)."""

    async def fetch_all(self, sql: str, values: Values | None = None) -> list[Row]: ...

    async def fetch_one(self, sql: str, values: Values | None = None) -> Row | None: ...

    async def execute(self, sql: str, values: Values | None = None) -> None: ...

    async def execute_many(self, sql: str, values: Iterable[Values]) -> None: ...


def one(row: Row | None) -> Row:
    """The row of a statement that always answers one: an aggregate, or a row the same transaction wrote or holds
    by a foreign key. None there is a broken invariant, not a client's error."""
    if row is None:
        raise LookupError("a statement that always answers one row answered none")
    return row


# `:name`, but not the second colon of a `::type` cast.
_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_READS = ("select", "with")


@lru_cache(maxsize=1024)
def positional(sql: str) -> tuple[str, tuple[str, ...]]:
    """`... :a ... :b ... :a` as (`... $1 ... $2 ... $1`, ("a", "b")) for asyncpg."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PARAMETER.sub(number, sql), tuple(names)


@lru_cache(maxsize=1024)
def is_read(sql: str) -> bool:
    return sql.lstrip().lower().startswith(_READS)


class _Runner:
    """Runs one statement on one driver connection."""

    async def fetch_all(self, raw: RawConnection, sql: str, values: Values) -> list[Row]:
        raise NotImplementedError

    async def execute(self, raw: RawConnection, sql: str, values: Values) -> None:
        raise NotImplementedError

    async def execute_many(self, raw: RawConnection, sql: str, values: list[Values]) -> None:
        raise NotImplementedError


class _SQLiteRunner(_Runner):
    async def fetch_all(self, raw: RawConnection, sql: str, values: Values) -> list[Row]:
        return [dict(row) for row in await raw.execute_fetchall(sql, values)]

    async def execute(self, raw: RawConnection, sql: str, values: Values) -> None:
        await raw.execute(sql, values)

    async def execute_many(self, raw: RawConnection, sql: str, values: list[Values]) -> None:
        await raw.executemany(sql, values)


class _SQLiteInlineRunner(_Runner):
    """Runs statements on the event loop's own thread, for a transaction that already holds SQLite's write lock.

    Each trip to aiosqlite's thread and back costs more CPU than a short statement itself (measured: the
    hand-off was the largest item of a write's profile), and inside `BEGIN IMMEDIATE` no statement waits
    for another writer. BEGIN and COMMIT run here too (`Database._begin_immediate`, `Database._commit`): only a
    BEGIN that finds another process's write lock waits, on the thread, and the writer never checkpoints.
    """

    async def fetch_all(self, raw: RawConnection, sql: str, values: Values) -> list[Row]:
        return [dict(row) for row in raw._conn.execute(sql, values).fetchall()]

    async def execute(self, raw: RawConnection, sql: str, values: Values) -> None:
        raw._conn.execute(sql, values)

    async def execute_many(self, raw: RawConnection, sql: str, values: list[Values]) -> None:
        raw._conn.executemany(sql, values)


class _PostgresRunner(_Runner):
    async def fetch_all(self, raw: RawConnection, sql: str, values: Values) -> list[Row]:
        text, names = positional(sql)
        return [dict(row) for row in await raw.fetch(text, *[values[name] for name in names])]

    async def execute(self, raw: RawConnection, sql: str, values: Values) -> None:
        text, names = positional(sql)
        await raw.execute(text, *[values[name] for name in names])

    async def execute_many(self, raw: RawConnection, sql: str, values: list[Values]) -> None:
        text, names = positional(sql)
        await raw.executemany(text, [[entry[name] for name in names] for entry in values])


class Session:
    """Statements on one driver connection: a transaction's, or SQLite's reader or writer."""

    def __init__(self, runner: _Runner, raw: RawConnection) -> None:
        self._runner = runner
        self.raw = raw

    async def fetch_all(self, sql: str, values: Values | None = None) -> list[Row]:
        return await self._runner.fetch_all(self.raw, sql, values or {})

    async def fetch_one(self, sql: str, values: Values | None = None) -> Row | None:
        rows = await self._runner.fetch_all(self.raw, sql, values or {})
        return rows[0] if rows else None

    async def execute(self, sql: str, values: Values | None = None) -> None:
        await self._runner.execute(self.raw, sql, values or {})

    async def execute_many(self, sql: str, values: Iterable[Values]) -> None:
        batch = list(values)
        if batch:
            await self._runner.execute_many(self.raw, sql, batch)


_current: ContextVar[Session | None] = ContextVar("cafe_rt_transaction", default=None)
_held_now: ContextVar[Held | None] = ContextVar("cafe_rt_held", default=None)
AfterCommit = Callable[[], Awaitable[object]]
SAVEPOINT = "SAVEPOINT held"
ROLLBACK_TO_SAVEPOINT = "ROLLBACK TO SAVEPOINT held"
RELEASE_SAVEPOINT = "RELEASE SAVEPOINT held"


class Held:
    """A request's writes in one transaction, held open until its answer is known, so that the answer (an
    Idempotency-Key's) commits with them.

    The first transaction the request opens begins it; its end, and every later one, is a savepoint (a
    block that fails undoes only itself, as its own transaction would have). `finish` commits or rolls
    back, then runs what the blocks left for after the commit (their publish)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.session: Session | None = None
        self._outer: Session | None = None
        self._release: Callable[[], Awaitable[None]] | None = None
        self._after: list[AfterCommit] = []

    @property
    def open(self) -> bool:
        return self.session is not None

    def after_commit(self, callback: AfterCommit) -> None:
        self._after.append(callback)

    @asynccontextmanager
    async def block(self) -> AsyncIterator[Session]:
        if self.session is None:
            await self._begin()
            assert self.session is not None
            try:
                yield self.session
            except BaseException:
                await self.finish(commit=False)  # the first block: nothing else was written yet
                raise
            return
        session = self.session
        await session.execute(SAVEPOINT)
        try:
            yield session
        except BaseException:
            await asyncio.shield(self._undo_block(session))
            raise
        await session.execute(RELEASE_SAVEPOINT)

    @staticmethod
    async def _undo_block(session: Session) -> None:
        await session.execute(ROLLBACK_TO_SAVEPOINT)
        await session.execute(RELEASE_SAVEPOINT)

    async def _begin(self) -> None:
        outer, self._release = await self._database._begin_held()
        self._outer = outer
        self.session = self._database._inside(outer)
        _current.set(self.session)

    async def finish(self, *, commit: bool, last: Callable[[Session], Awaitable[object]] | None = None) -> None:
        """COMMIT (after `last`, the answer's statement, on the same transaction) or ROLLBACK; raises when the
        commit fails. What fails after the COMMIT (releasing the connection, a publish) is logged."""
        session, outer, release = self.session, self._outer, self._release
        if session is None or outer is None or release is None:
            return
        self.session = self._outer = self._release = None
        _current.set(None)
        after, self._after = self._after, []
        try:
            if commit:
                if last is not None:
                    await last(session)
                await self._database._commit(outer)
            else:
                await self._database._roll_back(outer)
        except BaseException:
            await self._database._roll_back(outer)
            await release()
            raise
        await release()
        if commit:
            for callback in after:
                try:
                    await callback()
                except Exception:
                    log.warning("a step after a commit failed; the change is committed", exc_info=True)


@asynccontextmanager
async def holding(database: Database) -> AsyncIterator[Held]:
    """Hold every transaction this task opens in the block in one (see Held); rolled back unless finished."""
    held = Held(database)
    token = _held_now.set(held)
    try:
        yield held
    finally:
        _held_now.reset(token)
        await held.finish(commit=False)


def after_commit(callback: AfterCommit) -> bool:
    """Leave `callback` to run once the held transaction commits; False when none is held (run it now)."""
    held = _held_now.get()
    if held is None or not held.open:
        return False
    held.after_commit(callback)
    return True


class Database:
    """The service's database: `fetch_one`, `fetch_all`, `execute`, `execute_many` and `transaction()`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # The writer's statements inside a transaction run on the loop's thread (_SQLiteInlineRunner).
        self._databases = DatabasesDatabase(url, check_same_thread=False) if self.is_sqlite else DatabasesDatabase(url)
        self._runner: _Runner = _SQLiteRunner() if self.is_sqlite else _PostgresRunner()
        self._held: list[Connection] = []
        self._reader: Session | None = None
        self._point_reader: Session | None = None
        self._writer: Session | None = None
        self._write_lock = asyncio.Lock()
        self._commits = 0
        self._checkpoint: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        await self._databases.connect()
        if self.is_sqlite:
            self._reader = await self._hold()
            self._writer = await self._hold()
            # Its commits run on the loop's thread: a checkpoint there could stall every socket (_checkpoint_soon).
            await self._writer.execute("PRAGMA wal_autocheckpoint=0")
            point_reader = await self._hold()
            self._point_reader = Session(_SQLiteInlineRunner(), point_reader.raw)

    async def _hold(self) -> Session:
        connection = Connection(self._databases, self._databases._backend)
        await connection.__aenter__()
        self._held.append(connection)
        raw = connection.raw_connection
        raw.row_factory = sqlite3.Row
        # WAL: readers go on while the writer commits. NORMAL: a commit is not flushed to disk
        # until the checkpoint, so a power cut (not a crash of the process) can lose the last commits.
        await raw.execute("PRAGMA journal_mode=WAL")
        await raw.execute("PRAGMA synchronous=NORMAL")
        await raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return Session(self._runner, raw)

    async def disconnect(self) -> None:
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await self._checkpoint
        while self._held:
            await self._held.pop().__aexit__(None, None, None)
        await self._databases.disconnect()

    async def fetch_all(self, sql: str, values: Values | None = None) -> list[Row]:
        session = _current.get()
        if session is not None:
            return await session.fetch_all(sql, values)
        async with self._outside(sql) as session:
            return await session.fetch_all(sql, values)

    async def fetch_one(self, sql: str, values: Values | None = None) -> Row | None:
        """One row. On SQLite, a read outside a transaction runs on the loop's thread, on a connection of its
        own: these are point lookups (a user, a branch, a counter), cheaper than a trip to a thread."""
        if self._point_reader is not None and _current.get() is None and is_read(sql):
            return await self._point_reader.fetch_one(sql, values)
        rows = await self.fetch_all(sql, values)
        return rows[0] if rows else None

    async def execute(self, sql: str, values: Values | None = None) -> None:
        session = _current.get()
        if session is not None:
            await session.execute(sql, values)
            return
        async with self._outside(sql) as session:
            await session.execute(sql, values)

    async def execute_many(self, sql: str, values: Iterable[Values]) -> None:
        session = _current.get()
        if session is not None:
            await session.execute_many(sql, values)
            return
        async with self.transaction() as session:
            await session.execute_many(sql, values)

    @asynccontextmanager
    async def _outside(self, sql: str) -> AsyncIterator[Session]:
        """Where a statement outside any transaction runs: SQLite reads beside the writer, writes on it; a write
        while a request's transaction is held joins it."""
        held = _held_now.get()
        if held is not None and not is_read(sql):
            async with held.block() as session:
                yield session
            return
        if self.is_sqlite:
            assert self._reader is not None and self._writer is not None, "the database is not connected"
            if is_read(sql):
                yield self._reader
            else:
                async with self._write_lock:
                    yield self._writer
                    # A write of its own is a commit too: counted towards the next checkpoint.
                    self._commits += 1
            return
        async with self._pooled() as raw:
            yield Session(self._runner, raw)

    def _pool(self) -> Pool[Record]:
        """`databases`' asyncpg pool (its backend is typed Any); ConnectionError before connect()."""
        pool: Pool[Record] | None = self._databases._backend._pool
        if pool is None:
            raise ConnectionError("the database is not connected")
        return pool

    @asynccontextmanager
    async def _pooled(self) -> AsyncIterator[RawConnection]:
        """A PostgreSQL connection from the pool (TimeoutError after POOL_TIMEOUT). Returning it is never an
        error: after a COMMIT, a failure there must not turn a committed write into an error answer."""
        pool = self._pool()
        raw = await pool.acquire(timeout=POOL_TIMEOUT)
        try:
            yield raw
        finally:
            await _release(pool, raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Session]:
        """A transaction for this task: its statements (through this object or the session) join it."""
        held = _held_now.get()
        if held is not None:
            async with held.block() as session:
                yield session
            return
        if _current.get() is not None:
            raise RuntimeError("a transaction is already open in this task")
        if self.is_sqlite:
            assert self._writer is not None, "the database is not connected"
            async with self._write_lock:
                async with self._transaction(self._writer, "BEGIN IMMEDIATE") as session:
                    yield session
            return
        async with self._pooled() as raw:
            async with self._transaction(Session(self._runner, raw), "BEGIN") as session:
                yield session

    def _inside(self, session: Session) -> Session:
        """What a transaction's statements run on (SQLite: the loop's thread, as the write lock is held)."""
        return Session(_SQLiteInlineRunner(), session.raw) if self.is_sqlite else session

    async def _begin_held(self) -> tuple[Session, Callable[[], Awaitable[None]]]:
        """BEGIN on a connection of its own for a Held transaction; returns the session and what releases it."""
        if self.is_sqlite:
            assert self._writer is not None, "the database is not connected"
            writer = self._writer
            await self._write_lock.acquire()
            try:
                await self._begin_immediate(writer)
            except BaseException:
                self._write_lock.release()
                raise

            async def unlock() -> None:
                self._write_lock.release()

            return writer, unlock
        pool = self._pool()
        raw = await pool.acquire(timeout=POOL_TIMEOUT)
        try:
            await raw.execute("BEGIN")
        except BaseException:
            await _release(pool, raw)
            raise

        async def give_back() -> None:
            await _release(pool, raw)

        return Session(self._runner, raw), give_back

    @asynccontextmanager
    async def _transaction(self, session: Session, begin: str) -> AsyncIterator[Session]:
        """BEGIN and COMMIT on `session`; the statements in between on `inside` (SQLite: on the loop's thread)."""
        if self.is_sqlite:
            await self._begin_immediate(session)
        else:
            await session.execute(begin)
        inside = self._inside(session)
        token = _current.set(inside)
        try:
            yield inside
        except BaseException:
            _current.reset(token)
            await self._roll_back(session)
            raise
        _current.reset(token)
        try:
            await self._commit(session)
        except BaseException:
            # A COMMIT cut off by a cancellation may still have committed: roll back only what is still open.
            await self._roll_back(session)
            raise

    async def _begin_immediate(self, writer: Session) -> None:
        """BEGIN IMMEDIATE on the loop's thread when SQLite's write lock is free, which it is unless another
        process holds it (this one's writers queue on `_write_lock`); then it is waited for (busy_timeout) on
        aiosqlite's thread, not on the loop's. A trip to that thread and back for BEGIN and for COMMIT was a
        fifth of a write's CPU (the thread's wake-ups, and the writers queueing on the lock meanwhile)."""
        connection = writer.raw._conn
        connection.execute("PRAGMA busy_timeout=0")
        try:
            connection.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as refused:
            # An extended code (SQLITE_BUSY_RECOVERY, _SNAPSHOT, _TIMEOUT) keeps its primary code in the low byte.
            if refused.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                raise
        finally:
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        await self._wait_to_begin(writer)

    @staticmethod
    async def _wait_to_begin(writer: Session) -> None:
        """BEGIN IMMEDIATE on aiosqlite's thread, waiting up to busy_timeout for another process's write lock.

        A cancellation cannot stop the thread's BEGIN: it is waited for, and what it opened rolled back, before
        the caller gives up `_write_lock`. Else the next writer's first statement on the loop's thread would wait
        behind it (SQLite holds the connection's mutex while it waits) and find a transaction left open."""
        begin = asyncio.ensure_future(writer.execute("BEGIN IMMEDIATE"))
        try:
            await asyncio.shield(begin)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await begin
            if writer.raw._conn.in_transaction:
                await writer.execute("ROLLBACK")
            raise

    async def _commit(self, session: Session) -> None:
        """COMMIT; on SQLite on the loop's thread (in WAL mode it appends to the log and waits for no lock, and
        this connection never checkpoints), with a checkpoint every CHECKPOINT_COMMITS on the reader's thread."""
        if not self.is_sqlite:
            await session.execute("COMMIT")
            return
        session.raw._conn.execute("COMMIT")
        self._commits += 1
        if self._commits >= CHECKPOINT_COMMITS and self._checkpoint is None:
            self._commits = 0
            self._checkpoint = asyncio.get_running_loop().create_task(
                self._checkpoint_wal(), context=contextvars.Context()
            )

    async def _checkpoint_wal(self) -> None:
        """Copy the WAL's committed pages into the database file (and flush it) on the reader's thread; PASSIVE
        waits for no reader or writer, as SQLite's own automatic checkpoint."""
        assert self._reader is not None, "the database is not connected"
        try:
            await self._reader.execute(CHECKPOINT)
        except Exception:
            log.warning("WAL checkpoint failed; the next one retries", exc_info=True)
        finally:
            self._checkpoint = None

    def _in_transaction(self, raw: RawConnection) -> bool:
        return bool(raw.in_transaction) if self.is_sqlite else bool(raw.is_in_transaction())

    async def _roll_back(self, session: Session) -> None:
        try:
            if self._in_transaction(session.raw):
                await asyncio.shield(session.execute("ROLLBACK"))
        except Exception:
            # The connection is gone (and the transaction with it): the error that got us here is the one to tell.
            log.warning("ROLLBACK failed", exc_info=True)


async def _release(pool: Pool[Record], raw: RawConnection) -> None:
    try:
        await pool.release(raw)
    except Exception:
        log.warning("returning a connection to the pool failed", exc_info=True)
