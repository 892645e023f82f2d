"""realtime/eager.run_eagerly: a coroutine runs in the caller until it first waits, then as a task."""

from __future__ import annotations

import asyncio

import pytest

from realtime.eager import run_eagerly


def test_a_coroutine_that_never_waits_runs_to_its_end_in_the_call() -> None:
    done: list[str] = []

    async def send() -> None:
        done.append("sent")

    async def scenario() -> None:
        assert run_eagerly(send()) is None
        assert done == ["sent"]  # before anything else ran on the loop

    asyncio.run(scenario())


def test_an_error_before_waiting_is_raised_in_the_call() -> None:
    async def send() -> None:
        raise ConnectionResetError("gone")

    async def scenario() -> None:
        with pytest.raises(ConnectionResetError):
            run_eagerly(send())

    asyncio.run(scenario())


def test_a_coroutine_that_waits_goes_on_in_a_task_with_what_it_was_sent() -> None:
    steps: list[object] = []

    async def send(ready: asyncio.Future[str]) -> None:
        steps.append("started")
        steps.append(await ready)
        await asyncio.sleep(0)  # and it may wait again
        steps.append("finished")

    async def scenario() -> None:
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        task = run_eagerly(send(ready))
        assert task is not None and steps == ["started"]
        ready.set_result("writable")
        await task
        assert steps == ["started", "writable", "finished"]

    asyncio.run(scenario())


def test_an_error_after_waiting_is_the_tasks() -> None:
    async def send(ready: asyncio.Future[None]) -> None:
        await ready
        raise BrokenPipeError("gone while waiting")

    async def scenario() -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = run_eagerly(send(ready))
        assert task is not None
        ready.set_result(None)
        with pytest.raises(BrokenPipeError):
            await task

    asyncio.run(scenario())


def test_cancelling_the_task_reaches_the_coroutine_where_it_waits() -> None:
    cleaned: list[str] = []

    async def send(ready: asyncio.Future[None]) -> None:
        try:
            await ready
        finally:
            cleaned.append("finally")

    async def scenario() -> None:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = run_eagerly(send(ready))
        assert task is not None
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert cleaned == ["finally"]

    asyncio.run(scenario())


def test_the_task_does_not_inherit_the_callers_context() -> None:
    """What runs after the first wait must not join whatever the pushing task had open (a transaction is a
    ContextVar): the task runs in a context of its own."""
    import contextvars

    current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="none")
    seen: list[str] = []

    async def send(ready: asyncio.Future[None]) -> None:
        seen.append(current.get())  # the first step runs in the caller, as the caller
        await ready
        seen.append(current.get())

    async def scenario() -> None:
        current.set("a transaction")
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = run_eagerly(send(ready))
        assert task is not None
        ready.set_result(None)
        await task

    asyncio.run(scenario())
    assert seen == ["a transaction", "none"]
