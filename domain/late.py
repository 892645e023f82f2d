"""Late portions: each portion still open past its due time is announced once, by one process.

Every process runs `announce_late` every LATE_CHECK_INTERVAL. A portion is claimed by a conditional UPDATE
that sets late_announced_at in the same change that emits kitchen_task_late: two processes that find the same
portion cannot both claim it, and a crash before the commit leaves it unclaimed for the next pass.
"""

from __future__ import annotations

from core.values import utc_now
from domain.tasks import load_task
from events.feeds import emit_task_late
from events.services import Services

# The same terms as the kitchen_tasks_due index, so both databases read only open, unannounced portions.
SELECT_LATE = """
SELECT id, company_id FROM kitchen_tasks
WHERE late_announced_at IS NULL AND status IN ('pending', 'in_progress') AND due_at <= :now
ORDER BY due_at
LIMIT :limit
"""
CLAIM_LATE = """
UPDATE kitchen_tasks SET late_announced_at = :now
WHERE id = :id AND late_announced_at IS NULL AND status IN ('pending', 'in_progress')
RETURNING id
"""
BATCH = 200


async def announce_late(services: Services, limit: int = BATCH) -> int:
    """Announce the portions due by now and not yet announced; returns how many this process announced."""
    now = utc_now()
    rows = await services.database.fetch_all(SELECT_LATE, {"now": now, "limit": limit})
    by_company: dict[str, list[str]] = {}
    for row in rows:
        by_company.setdefault(row["company_id"], []).append(row["id"])
    announced = 0
    for company_id, task_ids in by_company.items():
        async with services.change(company_id) as change:
            for task_id in task_ids:
                if await change.db.fetch_one(CLAIM_LATE, {"id": task_id, "now": now}) is None:
                    continue  # another process announced it, or it was finished meanwhile
                await emit_task_late(change, await load_task(change.db, task_id))
                announced += 1
    return announced
