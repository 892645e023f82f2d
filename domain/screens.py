"""Screens online: which cafe feed sockets each branch has open, across every process, and the kitchen
stations whose last screen went away.

Each process counts its own sockets in memory (domain/screen_counts.py) and, every SCREEN_INTERVAL, beats its
heartbeat in screen_processes and rewrites its rows of screen_sockets when its counts changed. A process whose
heartbeat is older than `stale_after` is dead: its rows no longer count, and are removed. The offline/online
decision is taken from the shared rows by whichever process gets there first: a conditional UPDATE of
kitchen_screens in a change, so each change of a station is announced once.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.auth import STAFF_ROLES, Actor
from core.shapes import ScreenJSON
from core.values import new_id, utc_now
from domain.access import read_branch, require_role
from domain.screen_counts import ScreenCounts
from events.feeds import emit_screen
from events.outbox import Change
from events.services import Services
from storage.sql import Row

BEAT = """
INSERT INTO screen_processes (process_id, heartbeat_at) VALUES (:process_id, :now)
ON CONFLICT (process_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
"""
DELETE_OWN_SOCKETS = "DELETE FROM screen_sockets WHERE process_id = :process_id"
DELETE_OWN_PROCESS = "DELETE FROM screen_processes WHERE process_id = :process_id"
INSERT_SOCKETS = """
INSERT INTO screen_sockets (process_id, company_id, branch_id, feed, station, user_id, sockets, since)
VALUES (:process_id, :company_id, :branch_id, :feed, :station, :user_id, :sockets, :since)
"""
DELETE_DEAD_SOCKETS = """
DELETE FROM screen_sockets
WHERE process_id IN (SELECT process_id FROM screen_processes WHERE heartbeat_at < :fresh)
"""
DELETE_DEAD_PROCESSES = "DELETE FROM screen_processes WHERE heartbeat_at < :fresh"
SELECT_LIVE_KITCHENS = """
SELECT DISTINCT s.company_id, s.branch_id, s.station
FROM screen_sockets s JOIN screen_processes p ON p.process_id = s.process_id
WHERE s.feed = 'kitchen' AND s.branch_id <> '' AND p.heartbeat_at >= :fresh
"""
SELECT_LIVE_KITCHEN = """
SELECT 1 AS live FROM screen_sockets s JOIN screen_processes p ON p.process_id = s.process_id
WHERE s.company_id = :company_id AND s.branch_id = :branch_id AND s.feed = 'kitchen' AND s.station = :station
  AND p.heartbeat_at >= :fresh
LIMIT 1
"""
SELECT_KITCHEN_SCREENS = "SELECT company_id, branch_id, station, online, empty_since FROM kitchen_screens"
INSERT_KITCHEN_SCREEN = """
INSERT INTO kitchen_screens (company_id, branch_id, station, online, empty_since, changed_at)
VALUES (:company_id, :branch_id, :station, 1, NULL, :now)
ON CONFLICT (company_id, branch_id, station) DO NOTHING
"""
KEY = "company_id = :company_id AND branch_id = :branch_id AND station = :station"
MARK_EMPTY = f"UPDATE kitchen_screens SET empty_since = :now WHERE {KEY} AND online = 1 AND empty_since IS NULL"
CLEAR_EMPTY = f"UPDATE kitchen_screens SET empty_since = NULL WHERE {KEY} AND online = 1"
GO_OFFLINE = f"""
UPDATE kitchen_screens SET online = 0, changed_at = :now
WHERE {KEY} AND online = 1 AND empty_since IS NOT NULL AND empty_since <= :cutoff
RETURNING empty_since
"""
GO_ONLINE = f"""
UPDATE kitchen_screens SET online = 1, empty_since = NULL, changed_at = :now
WHERE {KEY} AND online = 0
RETURNING changed_at
"""
SELECT_OPEN = """
SELECT s.branch_id, s.feed, s.station, s.user_id, u.email, u.role, SUM(s.sockets) AS sockets, MIN(s.since) AS since
FROM screen_sockets s
JOIN screen_processes p ON p.process_id = s.process_id
JOIN users u ON u.id = s.user_id
WHERE s.company_id = :company_id AND (:branch_id = '' OR s.branch_id = :branch_id) AND p.heartbeat_at >= :fresh
GROUP BY s.branch_id, s.feed, s.station, s.user_id, u.email, u.role
ORDER BY s.branch_id, s.feed, s.station, MIN(s.since)
"""
SELECT_OFFLINE = """
SELECT branch_id, station, empty_since FROM kitchen_screens
WHERE company_id = :company_id AND (:branch_id = '' OR branch_id = :branch_id) AND online = 0
ORDER BY branch_id, station
"""


def stale_after(interval: float) -> float:
    """Seconds without a heartbeat after which a process's sockets no longer count: a few missed beats."""
    return max(3 * interval, interval + 2)


def _station(station: str) -> str | None:
    return station or None


@dataclass(frozen=True)
class Transition:
    action: str  # new, empty, clear, offline or online
    branch_id: str
    station: str


class ScreenWatch:
    """One process's part: share its counts, drop dead processes' rows, announce stations going and coming."""

    def __init__(self, services: Services, counts: ScreenCounts, interval: float, grace: float) -> None:
        self.services = services
        self.counts = counts
        self.interval = interval
        self.grace = grace
        self.process_id = new_id()
        self._shared_version = -1

    async def run_pass(self) -> None:
        await self.share()
        await self.decide()

    async def share(self) -> None:
        """Beat, rewrite this process's rows if its counts changed, and drop dead processes' rows: one transaction."""
        version, opened = self.counts.snapshot()
        fresh = self._fresh()
        async with self.services.database.transaction() as db:
            await db.execute(DELETE_DEAD_SOCKETS, {"fresh": fresh})
            await db.execute(DELETE_DEAD_PROCESSES, {"fresh": fresh})
            await db.execute(BEAT, {"process_id": self.process_id, "now": utc_now()})
            if version != self._shared_version:
                await db.execute(DELETE_OWN_SOCKETS, {"process_id": self.process_id})
                await db.execute_many(
                    INSERT_SOCKETS,
                    [
                        {
                            "process_id": self.process_id,
                            "company_id": key.company_id,
                            "branch_id": key.branch_id,
                            "feed": key.feed,
                            "station": key.station,
                            "user_id": key.user_id,
                            "sockets": sockets,
                            "since": since,
                        }
                        for key, sockets, since in opened
                    ],
                )
        self._shared_version = version

    async def withdraw(self) -> None:
        """At shutdown: this process's sockets are gone now, not when its heartbeat grows old."""
        async with self.services.database.transaction() as db:
            await db.execute(DELETE_OWN_SOCKETS, {"process_id": self.process_id})
            await db.execute(DELETE_OWN_PROCESS, {"process_id": self.process_id})

    def _fresh(self) -> str:
        return utc_now(seconds_ago=stale_after(self.interval))

    async def decide(self) -> int:
        """What each kitchen screen needs now, read from the shared rows; returns how many events were emitted."""
        database = self.services.database
        fresh = self._fresh()
        live = {
            (row["company_id"], row["branch_id"], row["station"])
            for row in await database.fetch_all(SELECT_LIVE_KITCHENS, {"fresh": fresh})
        }
        states = {
            (row["company_id"], row["branch_id"], row["station"]): row
            for row in await database.fetch_all(SELECT_KITCHEN_SCREENS)
        }
        cutoff = utc_now(seconds_ago=self.grace)
        todo: dict[str, list[Transition]] = {}
        for key in live | states.keys():
            action = _action(key in live, states.get(key), cutoff)
            if action:
                todo.setdefault(key[0], []).append(Transition(action, key[1], key[2]))
        emitted = 0
        for company_id, transitions in todo.items():
            async with self.services.change(company_id) as change:
                for transition in transitions:
                    emitted += await self._apply(change, transition, fresh, cutoff)
        return emitted

    async def _apply(self, change: Change, transition: Transition, fresh: str, cutoff: str) -> int:
        """One station's change, checked again inside the change (another process may have been first)."""
        now = utc_now()
        key = {"company_id": change.company_id, "branch_id": transition.branch_id, "station": transition.station}
        live = await change.db.fetch_one(SELECT_LIVE_KITCHEN, {**key, "fresh": fresh}) is not None
        if transition.action == "new" and live:
            await change.db.execute(INSERT_KITCHEN_SCREEN, {**key, "now": now})
        elif transition.action == "clear" and live:
            await change.db.execute(CLEAR_EMPTY, key)
        elif transition.action == "empty" and not live:
            await change.db.execute(MARK_EMPTY, {**key, "now": now})
        elif transition.action == "offline" and not live:
            gone = await change.db.fetch_one(GO_OFFLINE, {**key, "now": now, "cutoff": cutoff})
            if gone is not None:
                station = _station(transition.station)
                await emit_screen(change, "kitchen_screen_offline", transition.branch_id, station, gone["empty_since"])
                return 1
        elif transition.action == "online" and live:
            back = await change.db.fetch_one(GO_ONLINE, {**key, "now": now})
            if back is not None:
                station = _station(transition.station)
                await emit_screen(change, "kitchen_screen_online", transition.branch_id, station, back["changed_at"])
                return 1
        return 0


def _action(live: bool, state: Row | None, cutoff: str) -> str | None:
    if state is None:
        return "new" if live else None
    if live:
        if not state["online"]:
            return "online"
        return "clear" if state["empty_since"] else None
    if not state["online"]:
        return None
    if state["empty_since"] is None:
        return "empty"
    return "offline" if state["empty_since"] <= cutoff else None


async def list_screens(services: Services, actor: Actor, branch: str | None, interval: float) -> list[ScreenJSON]:
    """The branch's open feed sockets as of the last few seconds, per feed and kitchen station, with their users;
    a kitchen station announced offline is listed with no socket, since its last screen went away."""
    actor = require_role(actor, STAFF_ROLES)
    branch_id = await read_branch(services.database, actor, branch)
    values = {"company_id": actor.company_id, "branch_id": branch_id or ""}
    rows = await services.database.fetch_all(
        SELECT_OPEN, {**values, "fresh": utc_now(seconds_ago=stale_after(interval))}
    )
    screens: dict[tuple[str, str, str], ScreenJSON] = {}
    for row in rows:
        entry = screens.setdefault(
            (row["branch_id"], row["feed"], row["station"]),
            {
                "feed": row["feed"],
                "station": _station(row["station"]),
                "branch_id": row["branch_id"] or None,
                "users": [],
                "sockets": 0,
                "since": row["since"],
            },
        )
        entry["users"].append({"id": row["user_id"], "email": row["email"], "role": row["role"]})
        entry["sockets"] += int(row["sockets"])
        entry["since"] = min(entry["since"], row["since"])
    for row in await services.database.fetch_all(SELECT_OFFLINE, values):
        key = (row["branch_id"], "kitchen", row["station"])
        if key not in screens:
            screens[key] = {
                "feed": "kitchen",
                "station": _station(row["station"]),
                "branch_id": row["branch_id"],
                "users": [],
                "sockets": 0,
                "since": row["empty_since"],
            }
    return [screens[key] for key in sorted(screens)]
