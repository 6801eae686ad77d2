"""finished_within: bounded waits that never cancel what they wait for."""

from __future__ import annotations

import asyncio

import pytest

from mgexec.waiting import finished_within


async def test_a_future_that_finishes_in_time():
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_later(0.05, future.set_result, 7)
    assert await finished_within(future, 5) is True
    assert future.result() == 7


async def test_time_running_out_leaves_the_future_going():
    future = asyncio.get_running_loop().create_future()
    assert await finished_within(future, 0.05) is False
    assert not future.done()  # a bare wait_for would have cancelled it
    future.set_result("later")
    assert await finished_within(future, 0) is True


async def test_a_task_keeps_running_after_the_wait_and_can_be_awaited_later():
    task = asyncio.create_task(asyncio.sleep(0.2, result="done"))
    assert await finished_within(task, 0.01) is False
    assert not task.cancelled()
    assert await task == "done"


async def test_a_coroutine_is_refused_since_nobody_could_await_it_later():
    sleeper = asyncio.sleep(0)
    with pytest.raises(TypeError, match="make it a task|not coroutine"):
        await finished_within(sleeper, 1)
    await sleeper


async def test_events_set_before_during_and_never():
    event = asyncio.Event()
    assert await finished_within(event, 0.02) is False
    asyncio.get_running_loop().call_later(0.05, event.set)
    assert await finished_within(event, 5) is True
    assert await finished_within(event, 0) is True  # already set: no wait at all


async def test_its_failure_is_raised_and_its_cancellation_counts_as_finished():
    loop = asyncio.get_running_loop()
    failed = loop.create_future()
    failed.set_exception(ValueError("boom"))
    with pytest.raises(ValueError, match="boom"):
        await finished_within(failed, 1)
    cancelled = loop.create_future()
    cancelled.cancel()
    assert await finished_within(cancelled, 1) is True


@pytest.mark.parametrize("seconds", [0, -1])
async def test_no_time_left_only_looks(seconds):
    future = asyncio.get_running_loop().create_future()
    assert await finished_within(future, seconds) is False
    assert not future.done()


async def test_cancelling_the_caller_cancels_only_the_wait():
    future = asyncio.get_running_loop().create_future()
    event = asyncio.Event()
    waiters = [asyncio.create_task(finished_within(future, 30)), asyncio.create_task(finished_within(event, 30))]
    await asyncio.sleep(0.02)
    for waiter in waiters:
        waiter.cancel()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert not future.done() and not event.is_set()
    event.set()
    future.set_result(None)


async def test_none_waits_as_long_as_it_takes():
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_later(0.1, future.set_result, None)
    assert await finished_within(future, None) is True
