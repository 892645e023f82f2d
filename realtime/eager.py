"""Run a coroutine at once, in the caller, until it first has to wait (what Python 3.12's eager tasks do).

A WebSocket send completes without waiting whenever the transport takes the frame, which is nearly
always; starting a task for it would cost a task and a loop round trip per socket per event, the
largest part of a fan-out's CPU. Only a send that has to wait (the client reads slowly) becomes a task.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any


class _Resumed:
    """Awaitable that continues a coroutine which was started by hand and suspended on `waiting_on`."""

    def __init__(self, coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self._coroutine = coroutine
        self._waiting_on = waiting_on

    def __await__(self) -> Generator[Any, Any, None]:
        waiting_on = self._waiting_on
        while True:
            try:
                sent = yield waiting_on
            except BaseException as error:  # a cancellation of the task, passed on to the coroutine
                try:
                    waiting_on = self._coroutine.throw(error)
                except StopIteration:
                    return
            else:
                try:
                    waiting_on = self._coroutine.send(sent)
                except StopIteration:
                    return


async def _finish(resumed: _Resumed) -> None:
    await resumed


def run_eagerly(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
    """None when the coroutine ran to its end here; else the task that finishes it. Its errors are raised here
    when it fails before waiting, and by the task after."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    return asyncio.get_running_loop().create_task(
        _finish(_Resumed(coroutine, waiting_on)), context=contextvars.Context()
    )
