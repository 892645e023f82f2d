"""This process's open cafe feed sockets, counted in memory: a connect or close costs a dict update.

The screens loop (domain/screens.py) writes a snapshot to the shared table every few seconds, only when
something changed since the last one.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.values import utc_now


@dataclass(frozen=True)
class ScreenKey:
    company_id: str
    branch_id: str
    feed: str
    # '' for a feed without a station (and the kitchen feed of every station).
    station: str
    user_id: str


@dataclass
class Opened:
    sockets: int
    since: str


class ScreenCounts:
    def __init__(self) -> None:
        self._open: dict[ScreenKey, Opened] = {}
        self.version = 0

    def opened(self, key: ScreenKey) -> None:
        known = self._open.get(key)
        if known is None:
            self._open[key] = Opened(1, utc_now())
        else:
            known.sockets += 1
        self.version += 1

    def closed(self, key: ScreenKey) -> None:
        known = self._open.get(key)
        if known is None:
            return
        known.sockets -= 1
        if known.sockets <= 0:
            del self._open[key]
        self.version += 1

    def snapshot(self) -> tuple[int, list[tuple[ScreenKey, int, str]]]:
        """(version, [(key, sockets, since)]): what to write, and the version it is of."""
        return self.version, [(key, opened.sockets, opened.since) for key, opened in self._open.items()]
