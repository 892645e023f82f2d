"""The event pipeline's write side: outbox rows in the writer's transaction, publish after commit.

Every change goes through `Change`: it opens the transaction, takes the company's counter row lock
(which orders the company's writers, so positions are gapless and in commit order), collects the
events, commits, and only then hands them to the broadcaster.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from domain.db import utc_now
from domain.errors import NotFound

if TYPE_CHECKING:
    from domain.services import Services

log = logging.getLogger("cafe_rt.outbox")
# PostgreSQL's NOTIFY allows channel names of 63 bytes and payloads under 8000 bytes.
MAX_BROKER_CHANNEL = 63
MAX_BROKER_TEXT = 6000

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
UPDATE events SET published = 1 WHERE company_id = :company_id AND position >= :first AND position <= :last
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

    def envelope(self) -> str:
        """What travels over the broker: position and channels let every hub order and dedupe.

        A text too big for the broker stays behind; the hub then reads it from the outbox.
        """
        text = self.text if len(self.text.encode()) <= MAX_BROKER_TEXT else ""
        return f"{self.position}|{' '.join(self.channels)}|{text}"


def parse_envelope(envelope: str) -> tuple[int, tuple[str, ...], str]:
    """(position, channels, text); an empty text means "read it from the outbox"."""
    position, channels, text = envelope.split("|", 2)
    return int(position), tuple(channels.split(" ")), text


def broker_channel(channel: str) -> str:
    """The name a channel has on the broker: PostgreSQL's NOTIFY takes at most 63 bytes."""
    if len(channel) <= MAX_BROKER_CHANNEL:
        return channel
    return "cafe_rt_" + hashlib.sha256(channel.encode()).hexdigest()[:40]


class Change:
    """One write transaction of one company, with the events it emits."""

    def __init__(self, services: Services, company_id: str) -> None:
        self.services = services
        self.db = services.database
        self.company_id = company_id
        self._events: list[OutboxEvent] = []
        self._position = 0

    async def __aenter__(self) -> Change:
        await self.services.gate.__aenter__()
        self._transaction = self.db.transaction()
        try:
            await self._transaction.start()
            row = await self.db.fetch_one(LOCK_COUNTER, {"company_id": self.company_id})
            if row is None:
                raise NotFound("Unknown company.")
            self._position = row["last_position"]
        except BaseException:
            await self._abandon()
            raise
        return self

    async def _abandon(self) -> None:
        try:
            await self._transaction.rollback()
        finally:
            await self.services.gate.__aexit__(None, None, None)

    async def emit(self, event_type: str, channels: list[str], message: dict[str, Any]) -> None:
        """Record an event; its text is serialized here, once, with its position as event_id."""
        self._position += 1
        text = json.dumps({**message, "event_id": self._position}, ensure_ascii=False, separators=(",", ":"))
        await self.db.execute(
            INSERT_EVENT,
            {
                "company_id": self.company_id,
                "position": self._position,
                "type": event_type,
                "channels": " ".join(channels),
                "payload": text,
                "created_at": utc_now(),
            },
        )
        self._events.append(OutboxEvent(self.company_id, self._position, tuple(channels), text))

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if exc_type is not None:
            await self._abandon()
            return False
        try:
            if self._events:
                await self.db.execute(SAVE_COUNTER, {"company_id": self.company_id, "last_position": self._position})
            await self._transaction.commit()
        except BaseException:
            await self._abandon()
            raise
        await self.services.gate.__aexit__(None, None, None)
        await publish(self.services, self._events)
        return False


async def create_counter(db: Any, company_id: str) -> None:
    await db.execute(INSERT_COUNTER, {"company_id": company_id})


async def publish(services: Services, events: list[OutboxEvent]) -> None:
    """Hand committed events to the broker; a failure is logged and left to the relay, never raised."""
    if not events:
        return
    try:
        for event in events:
            envelope = event.envelope()
            for channel in event.channels:
                await services.broadcast.publish(channel=broker_channel(channel), message=envelope)
    except Exception:
        log.warning("publish failed; the relay will retry", exc_info=True)
        return
    async with services.gate:
        await services.database.execute(
            MARK_PUBLISHED,
            {"company_id": events[0].company_id, "first": events[0].position, "last": events[-1].position},
        )


async def relay_unpublished(services: Services, before: str, limit: int = 500) -> int:
    """Publish rows a crash (or a broker outage) left unpublished; returns how many."""
    rows = await services.database.fetch_all(SELECT_UNPUBLISHED, {"before": before, "limit": limit})
    by_company: dict[str, list[OutboxEvent]] = {}
    for row in rows:
        event = OutboxEvent(row["company_id"], row["position"], tuple(row["channels"].split(" ")), row["payload"])
        by_company.setdefault(event.company_id, []).append(event)
    for events in by_company.values():
        await publish(services, events)
    return len(rows)


async def read_range(db: Any, company_id: str, after: int, through: int) -> list[tuple[int, tuple[str, ...], str]]:
    rows = await db.fetch_all(SELECT_RANGE, {"company_id": company_id, "after": after, "through": through})
    return [(row["position"], tuple(row["channels"].split(" ")), row["payload"]) for row in rows]


async def read_counter(db: Any, company_id: str) -> tuple[int, int]:
    """(last position, pruned through) of a company."""
    row = await db.fetch_one(SELECT_COUNTER, {"company_id": company_id})
    if row is None:
        return 0, 0
    return row["last_position"], row["pruned_through"]


SELECT_PRUNABLE = """
SELECT company_id, MAX(position) AS through FROM events WHERE created_at < :before GROUP BY company_id
"""
DELETE_PRUNED = "DELETE FROM events WHERE company_id = :company_id AND position <= :through"
SAVE_PRUNED = "UPDATE event_counters SET pruned_through = :through WHERE company_id = :company_id"


async def prune(services: Services, before: str) -> int:
    """Forget events older than the retention; a resume from before them gets resync_required."""
    rows = await services.database.fetch_all(SELECT_PRUNABLE, {"before": before})
    for row in rows:
        async with services.change(row["company_id"]) as change:
            await change.db.execute(DELETE_PRUNED, {"company_id": row["company_id"], "through": row["through"]})
            await change.db.execute(SAVE_PRUNED, {"company_id": row["company_id"], "through": row["through"]})
    return len(rows)
