"""What every domain function works with: the database, the broker and the settings they need."""

from __future__ import annotations

from dataclasses import dataclass, field

from broadcaster import Broadcast

from domain.auth import TokenSettings
from domain.outbox import Change, PublishedMarks
from domain.sql import Database
from domain.throttle import LoginLimits


@dataclass
class Services:
    database: Database
    broadcast: Broadcast
    tokens: TokenSettings
    bonus_percent: int = 5
    # POS sync jobs are written only when a webhook is configured.
    sync_enabled: bool = False
    # The largest envelope text the broker takes (PostgreSQL's NOTIFY: under 8000 bytes).
    broker_max_text: int = 1_000_000
    published: PublishedMarks = field(default_factory=PublishedMarks)
    ws_ticket_ttl: int = 45
    # Kitchen portions (the sum of quantities) one order may hold: one request must not flood the kitchen.
    max_portions_per_order: int = 200
    login_limits: LoginLimits = LoginLimits()
    # Seconds the publish after a commit may hold a response; the relay publishes what it leaves.
    publish_timeout: float = 1.0
    # Seconds an Idempotency-Key's answer is kept.
    idempotency_ttl: int = 86400
    # Seconds in which a just-rotated refresh token, presented again, gets the same new pair.
    refresh_reuse_grace: float = 10.0

    def change(self, company_id: str) -> Change:
        return Change(self, company_id)
