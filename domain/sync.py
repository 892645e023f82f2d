"""POS sync: new orders and status changes POSTed to SYNC_WEBHOOK_URL by a worker, with retries.

Jobs are rows written in the change's own transaction, so a restart loses none; the worker
claims a due job with a lease, posts it outside any transaction, and records the outcome,
which admins see as sync-success or sync-error. An order's jobs go out in the order written.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.error
import urllib.request

from core.shapes import OrderJSON
from core.values import new_id, utc_later, utc_now
from events import announce
from events.outbox import Change
from events.services import Services
from storage.sql import Row

log = logging.getLogger("cafe_rt.sync")

INSERT_JOB = """
INSERT INTO sync_jobs (id, company_id, branch_id, entity, entity_id, payload, status, attempts, next_attempt_at,
                       created_at, updated_at)
VALUES (:id, :company_id, :branch_id, :entity, :entity_id, :payload, 'pending', 0, :now, :now, :now)
"""
SELECT_DUE = """
SELECT * FROM sync_jobs job
WHERE job.status = 'pending' AND job.next_attempt_at <= :now
  AND NOT EXISTS (
    SELECT 1 FROM sync_jobs older
    WHERE older.entity_id = job.entity_id AND older.status = 'pending' AND older.created_at < job.created_at
  )
ORDER BY job.next_attempt_at LIMIT 20
"""
CLAIM = """
UPDATE sync_jobs SET next_attempt_at = :lease_until, updated_at = :now
WHERE id = :id AND status = 'pending' AND next_attempt_at = :seen
RETURNING id
"""
FINISH = """
UPDATE sync_jobs SET status = :status, attempts = :attempts, last_error = :error, next_attempt_at = :next_attempt_at,
                     updated_at = :now
WHERE id = :id
"""


async def enqueue(change: Change, order: OrderJSON, event: str) -> None:
    """Queue an order's new state for the POS, when a webhook is configured."""
    if not change.services.settings.sync_webhook_url:
        return
    now = utc_now()
    payload = {"entity": "order", "entityId": order["id"], "event": event, "order": order, "timestamp": now}
    await change.db.execute(
        INSERT_JOB,
        {
            "id": new_id(),
            "company_id": change.company_id,
            "branch_id": order["branch"],
            "entity": "order",
            "entity_id": order["id"],
            "payload": json.dumps(payload, ensure_ascii=False),
            "now": now,
        },
    )


def _post(url: str, body: bytes, timeout: float) -> None:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout):
        pass


def _describe(error: Exception, timeout: float) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code}"
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return f"No answer within {timeout:g} s"
    return str(reason) or type(reason).__name__


async def run_due_jobs(services: Services, stopping: asyncio.Event | None = None) -> int:
    """Post every due job once (stopping between jobs when asked); returns how many were attempted."""
    settings = services.settings
    assert settings.sync_webhook_url is not None, "run only with SYNC_WEBHOOK_URL set"
    attempted = 0
    for job in await services.database.fetch_all(SELECT_DUE, {"now": utc_now()}):
        if stopping is not None and stopping.is_set():
            break
        lease = {
            "id": job["id"],
            "seen": job["next_attempt_at"],
            "now": utc_now(),
            "lease_until": utc_later(settings.sync_timeout + 60),
        }
        claimed = await services.database.fetch_one(CLAIM, lease)
        if claimed is None:
            continue  # another process took it
        attempted += 1
        try:
            await asyncio.to_thread(_post, settings.sync_webhook_url, job["payload"].encode(), settings.sync_timeout)
            error = None
        except Exception as failure:
            error = _describe(failure, settings.sync_timeout)
        await _record(services, dict(job), error)
    return attempted


async def _record(services: Services, job: Row, error: str | None) -> None:
    settings = services.settings
    attempts = job["attempts"] + 1
    retry = error is not None and attempts < settings.sync_max_attempts
    outcome = {
        "id": job["id"],
        "status": "pending" if retry else ("success" if error is None else "failed"),
        "attempts": attempts,
        "error": error,
        "next_attempt_at": utc_later(settings.sync_retry_base * 2 ** (attempts - 1))
        if retry
        else job["next_attempt_at"],
        "now": utc_now(),
    }
    async with services.change(job["company_id"]) as change:
        await change.db.execute(FINISH, outcome)
        if not retry:
            await announce.sync_finished(change, job["branch_id"], job["entity"], job["entity_id"], error)
    if error is not None:
        log.warning("POS sync of %s %s failed (attempt %d): %s", job["entity"], job["entity_id"], attempts, error)


async def sync_pass(services: Services, stopping: asyncio.Event) -> None:
    """Post due jobs batch after batch while there are any (a backlog after a POS outage drains at the webhook's
    pace, not a batch per pause), until `stopping` is set."""
    while not stopping.is_set() and await run_due_jobs(services, stopping):
        pass
