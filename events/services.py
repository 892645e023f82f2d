"""What every domain function works with: the database, the broker and the settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property

from core.auth import TokenSettings
from core.settings import Settings
from events.broker import Broker
from events.outbox import Change, PublishedMarks
from storage.migrations import open_database
from storage.sql import Database


@dataclass
class Services:
    database: Database
    broker: Broker
    settings: Settings
    published: PublishedMarks = field(default_factory=PublishedMarks)

    @cached_property
    def tokens(self) -> TokenSettings:
        settings = self.settings
        return TokenSettings(settings.jwt_secret or "", settings.access_token_ttl, settings.refresh_token_ttl)

    def change(self, company_id: str, *, reads_first: bool = False) -> Change:
        return Change(self, company_id, reads_first=reads_first)


@asynccontextmanager
async def running_services(settings: Settings) -> AsyncIterator[Services]:
    """The database (its schema brought up to date) and the broker, connected for as long as the block runs."""
    settings.check()
    database = await open_database(settings.database_url)
    services = Services(database, Broker(settings.broadcast_url), settings)
    try:
        await services.broker.connect()
        yield services
    finally:
        # The supervisor may have swapped the connection: this closes the one in use now.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(services.broker.disconnect(), 5)
        await database.disconnect()
