"""The event pipeline's write side: outbox rows in the writer's transaction, publish after commit.

Every change goes through `Change`: it opens the transaction, takes the company's counter row lock
(which orders the company's writers, so positions are gapless and in commit order), collects the
events, writes them in one statement with the counter, commits, and only then hands them to the
broker: once per change, on the company's one broker channel. A change opened `reads_first` looks up
what it only reads before it takes the lock, so the company's other writers do not wait on those reads.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from core.errors import NotFound
from core.metrics import EVENTS_PUBLISHED
from core.settings import Settings
from core.values import utc_now
from events.broker import Broker
from storage.sql import Database, Row, Session, Statements, Values, after_commit, is_read

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

log = logging.getLogger("cafe_rt.outbox")
# An envelope's body is a JSON array, or this mark and the array zlib-compressed in base64.
COMPRESSED = "z:"

LOCK_COUNTER = """
UPDATE event_counters SET last_position = last_position WHERE company_id = :company_id
RETURNING last_position
"""
SAVE_COUNTER = "UPDATE event_counters SET last_position = :last_position WHERE company_id = :company_id"
INSERT_COUNTER = """
INSERT INTO event_counters (company_id, last_position, pruned_through) VALUES (:company_id, 0, 0)
"""
INSERT_EVENT = """
INSERT INTO events (company_id, position, type, channels, payload, created_at, published)
VALUES (:company_id, :position, :type, :channels, :payload, :created_at, 0)
"""
MARK_PUBLISHED = """
UPDATE events SET published = 1
WHERE company_id = :company_id AND position >= :first AND position <= :through AND published = 0
"""
SELECT_UNPUBLISHED = """
SELECT company_id, position, channels, payload FROM events
WHERE published = 0 AND created_at < :before ORDER BY company_id, position LIMIT :limit
"""
SELECT_RANGE = """
SELECT position, channels, payload FROM events
WHERE company_id = :company_id AND position > :after AND position <= :through ORDER BY position
"""
SELECT_COUNTER = "SELECT last_position, pruned_through FROM event_counters WHERE company_id = :company_id"


@dataclass(frozen=True)
class OutboxEvent:
    company_id: str
    position: int
    channels: tuple[str, ...]
    text: str


def company_broker_channel(company_id: str) -> str:
    """The one broker channel a company's events travel on (44 bytes: within NOTIFY's 63)."""
    return f"cafe_rt_{company_id}"


@dataclass(frozen=True)
class Envelope:
    first: int
    last: int
    # When the change committed (time.time()), for the commit-to-socket latency.
    committed_at: float
    # (channels, text) per position, or None: the change was too big for the broker; read the outbox.
    entries: list[tuple[tuple[str, ...], str]] | None


def envelope(events: list[OutboxEvent], max_text: int, committed_at: float) -> str:
    """One broker message for one change: `first|last|committed_at|[[channels, text], ...]`.

    Positions let every hub order and dedupe; a change too big for the broker even compressed travels as
    `first|last|committed_at|` alone, and the hubs read its events from the outbox.
    """
    head = f"{events[0].position}|{events[-1].position}|{committed_at:.6f}|"
    body = json.dumps([[" ".join(event.channels), event.text] for event in events], ensure_ascii=False)
    # NOTIFY's limit is in bytes: a Cyrillic character is two.
    if len(head.encode()) + len(body.encode()) <= max_text:
        return head + body
    # Over a bounded broker's limit (NOTIFY): one change's events repeat the same order in every dialect, so
    # they compress to a fifth or less (an ordinary order's 7-9 KB to under 2 KB), and base64 keeps it text.
    packed = COMPRESSED + base64.b64encode(zlib.compress(body.encode(), 6)).decode("ascii")
    return head + packed if len(head) + len(packed) <= max_text else head


def parse_envelope(text: str) -> Envelope:
    first, last, committed_at, body = text.split("|", 3)
    if not body:
        return Envelope(int(first), int(last), float(committed_at), None)
    if body.startswith(COMPRESSED):
        try:
            body = zlib.decompress(base64.b64decode(body[len(COMPRESSED) :])).decode()
        except zlib.error as error:
            raise ValueError("an envelope that does not decompress") from error
    entries = [(tuple(channels.split(" ")), event_text) for channels, event_text in json.loads(body)]
    if len(entries) != int(last) - int(first) + 1:
        raise ValueError("an envelope whose events do not match its positions")
    return Envelope(int(first), int(last), float(committed_at), entries)


class PublishedMarks:
    """What this process has published, kept in memory and written to the outbox by the relay in one statement
    per company, instead of one more write transaction per change. Only the positions published since the
    last flush are touched, not the company's whole history."""

    def __init__(self) -> None:
        self._ranges: dict[str, tuple[int, int]] = {}

    def note(self, company_id: str, first: int, through: int) -> None:
        known = self._ranges.get(company_id)
        self._ranges[company_id] = (first, through) if known is None else (min(known[0], first), max(known[1], through))

    async def flush(self, db: Statements) -> None:
        ranges, self._ranges = self._ranges, {}
        for company_id, (first, through) in ranges.items():
            await db.execute(MARK_PUBLISHED, {"company_id": company_id, "first": first, "through": through})


class Pipeline(Protocol):
    """What the outbox needs of `Services` (events/services.py), which builds its changes from here."""

    @property
    def database(self) -> Database: ...
    @property
    def broker(self) -> Broker: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def published(self) -> PublishedMarks: ...


class ReferenceReads:
    """The reads a `reads_first` change may run before it takes the company's lock: SELECTs only."""

    def __init__(self, session: Session) -> None:
        self._session = session

    async def fetch_all(self, sql: str, values: Values | None = None) -> list[Row]:
        return await self._session.fetch_all(self._checked(sql), values)

    async def fetch_one(self, sql: str, values: Values | None = None) -> Row | None:
        return await self._session.fetch_one(self._checked(sql), values)

    async def execute(self, sql: str, values: Values | None = None) -> None:
        raise RuntimeError("a write before the change took its lock: use change.db after `await change.lock()`")

    async def execute_many(self, sql: str, values: Iterable[Values]) -> None:
        raise RuntimeError("a write before the change took its lock: use change.db after `await change.lock()`")

    @staticmethod
    def _checked(sql: str) -> str:
        if not is_read(sql):
            raise RuntimeError("a write before the change took its lock: use change.db after `await change.lock()`")
        return sql


class Change:
    """One write transaction of one company, with the events it emits.

    The rule for code inside `async with Change(...)`: await nothing but SQL on `change.db`. No broker, no
    HTTP, no sleep, no lock of another kind. The transaction holds the company's counter row (PostgreSQL) or
    the only write lock (SQLite), and on SQLite its statements run on the event loop's thread: a slow query
    here stalls every write of the company and, on SQLite, every socket of the process. Work that must wait
    on something else happens before the change opens, or after it commits.

    `reads_first=True` opens the transaction without the lock: the change reads on `change.reads` and then
    calls `await change.lock()` before its first write or event (`change.db` refuses until then). The reads
    there are of reference rows whose change is no conflict with this one (a menu item, a table, a member of
    staff: the order is placed as they were a moment before); what the change updates after reading it (an
    order, a table's status, a balance) is read on `change.db`, under the lock, or two writers could both
    act on the same old value. On PostgreSQL the company's other writers then queue only behind this
    change's writes; on SQLite, whose transaction holds the only write lock from BEGIN, nothing changes.
    """

    def __init__(self, services: Pipeline, company_id: str, *, reads_first: bool = False) -> None:
        self.services = services
        self.company_id = company_id
        self._reads_first = reads_first
        self._session: Session | None = None
        self._locked = False
        self._events: list[OutboxEvent] = []
        self._types: list[str] = []
        self._position = 0
        # What one change looks up more than once (a branch's city), read once.
        self.memo: dict[str, Row] = {}

    @property
    def db(self) -> Session:
        """The transaction's statements, once the change holds the company's lock."""
        if not self._locked or self._session is None:
            raise RuntimeError("change.db before the change took its lock: `await change.lock()` first")
        return self._session

    @property
    def reads(self) -> ReferenceReads:
        """SELECTs on the transaction, before or after the lock."""
        if self._session is None:
            raise RuntimeError("change.reads outside `async with`")
        return ReferenceReads(self._session)

    async def __aenter__(self) -> Change:
        self._transaction: AbstractAsyncContextManager[Session] = self.services.database.transaction()
        self._session = await self._transaction.__aenter__()
        if not self._reads_first:
            try:
                await self.lock()
            except BaseException as error:
                await self._abandon(error)
                raise
        return self

    async def lock(self) -> None:
        """Take the company's counter row: from here the change may write and emit, in position order."""
        if self._session is None or self._locked:
            raise RuntimeError("change.lock() outside `async with`, or twice")
        row = await self._session.fetch_one(LOCK_COUNTER, {"company_id": self.company_id})
        if row is None:
            raise NotFound("Unknown company.")
        self._position = row["last_position"]
        self._locked = True

    async def _abandon(self, error: BaseException) -> None:
        await self._transaction.__aexit__(type(error), error, error.__traceback__)

    async def emit(self, event_type: str, channels: list[str], message: Mapping[str, object]) -> None:
        """Record an event; its text is serialized here, once, with its position as event_id."""
        if not self._locked:
            raise RuntimeError("an event before the change took its lock: `await change.lock()` first")
        self._position += 1
        text = json.dumps({**message, "event_id": self._position}, ensure_ascii=False, separators=(",", ":"))
        self._events.append(OutboxEvent(self.company_id, self._position, tuple(channels), text))
        self._types.append(event_type)

    async def __aexit__(self, exc_type: object, exc: BaseException | None, tb: object) -> Literal[False]:
        """Commits and publishes, or rolls back; never swallows the exception."""
        if exc is not None:
            await self._abandon(exc)
            return False
        try:
            if self._events:
                now = utc_now()
                await self.db.execute_many(
                    INSERT_EVENT,
                    [
                        {
                            "company_id": self.company_id,
                            "position": event.position,
                            "type": event_type,
                            "channels": " ".join(event.channels),
                            "payload": event.text,
                            "created_at": now,
                        }
                        for event, event_type in zip(self._events, self._types, strict=True)
                    ],
                )
                await self.db.execute(SAVE_COUNTER, {"company_id": self.company_id, "last_position": self._position})
        except BaseException as error:
            await self._abandon(error)
            raise
        await self._transaction.__aexit__(None, None, None)
        # From here the change is committed (or held for its request's answer): nothing after it may fail it.
        if self._events and not after_commit(self._publish):
            await self._publish()
        return False

    async def _publish(self) -> None:
        await publish(self.services, self._events)


async def create_counter(db: Statements, company_id: str) -> None:
    await db.execute(INSERT_COUNTER, {"company_id": company_id})


async def publish(services: Pipeline, events: list[OutboxEvent]) -> bool:
    """Hand a change's committed events to the broker in one message; a failure is logged and left to the
    relay (and to every hub's sweep), never raised."""
    if not events:
        return True
    company_id = events[0].company_id
    broker = services.broker
    message: str | Envelope
    if broker.in_process:
        # The hub of this same process reads it: the envelope as it is, not encoded to be parsed back.
        entries = [(event.channels, event.text) for event in events]
        message = Envelope(events[0].position, events[-1].position, time.time(), entries)
    else:
        message = envelope(events, broker.max_text, time.time())
    try:
        # A broker that stalls must not hold the answer: the relay publishes what this leaves.
        await asyncio.wait_for(
            broker.publish(company_broker_channel(company_id), message),
            services.settings.publish_timeout,
        )
    except Exception:
        log.warning("publish failed; the relay will retry", exc_info=True)
        return False
    services.published.note(company_id, events[0].position, events[-1].position)
    EVENTS_PUBLISHED.inc(len(events))
    return True


async def relay_unpublished(services: Pipeline, before: str, limit: int = 500) -> int:
    """Publish rows a crash (or a broker outage) left unpublished; returns how many."""
    await services.published.flush(services.database)
    rows = await services.database.fetch_all(SELECT_UNPUBLISHED, {"before": before, "limit": limit})
    by_company: dict[str, list[OutboxEvent]] = {}
    for row in rows:
        event = OutboxEvent(row["company_id"], row["position"], tuple(row["channels"].split(" ")), row["payload"])
        by_company.setdefault(event.company_id, []).append(event)
    for events in by_company.values():
        # One change's events are consecutive; a batch that is not (rows of several changes, some
        # published) goes as runs of consecutive positions.
        runs: list[list[OutboxEvent]] = []
        for event in events:
            if not runs or event.position != runs[-1][-1].position + 1:
                runs.append([])
            runs[-1].append(event)
        for run in runs:
            if not await publish(services, run):
                break
    await services.published.flush(services.database)
    return len(rows)


async def read_range(
    db: Statements, company_id: str, after: int, through: int
) -> list[tuple[int, tuple[str, ...], str]]:
    rows = await db.fetch_all(SELECT_RANGE, {"company_id": company_id, "after": after, "through": through})
    return [(row["position"], tuple(row["channels"].split(" ")), row["payload"]) for row in rows]


async def read_counter(db: Statements, company_id: str) -> tuple[int, int]:
    """(last position, pruned through) of a company."""
    row = await db.fetch_one(SELECT_COUNTER, {"company_id": company_id})
    if row is None:
        return 0, 0
    return row["last_position"], row["pruned_through"]


# Old events per company (the index on created_at keeps this to the old rows), pruned a batch at a time:
# the delete runs inside a change, and a week's backlog at once would hold the writer that long.
SELECT_PRUNABLE = """
SELECT company_id, MIN(position) AS first, MAX(position) AS last FROM events WHERE created_at < :before
GROUP BY company_id
"""
PRUNE_BATCH = 2000
DELETE_PRUNED = "DELETE FROM events WHERE company_id = :company_id AND position <= :through"
SAVE_PRUNED = "UPDATE event_counters SET pruned_through = :through WHERE company_id = :company_id"


async def prune(services: Pipeline, before: str, batch: int = PRUNE_BATCH) -> int:
    """Forget events older than the retention, at most `batch` per company a pass; a resume from before them
    gets resync_required. Returns how many companies were pruned."""
    rows = await services.database.fetch_all(SELECT_PRUNABLE, {"before": before})
    for row in rows:
        through = min(row["last"], row["first"] + batch - 1)
        async with Change(services, row["company_id"]) as change:
            await change.db.execute(DELETE_PRUNED, {"company_id": row["company_id"], "through": through})
            await change.db.execute(SAVE_PRUNED, {"company_id": row["company_id"], "through": through})
    return len(rows)
