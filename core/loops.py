"""Background passes that every process runs: one way to repeat a pass, survive its failures and stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("cafe_rt.loops")


async def every(
    interval: float,
    stopping: asyncio.Event,
    work: Callable[[], Awaitable[object]],
    what: str,
    first_after: bool = False,
) -> None:
    """Run `work` now (or, with `first_after`, once `interval` has passed) and then every `interval` seconds until
    `stopping` is set; a failed pass is logged and the next one comes on time (a pass in flight when stopping is
    set is finished, not cut off)."""
    if first_after:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)
    while not stopping.is_set():
        try:
            await work()
        except Exception:
            log.warning("%s pass failed", what, exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval)
