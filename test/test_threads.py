"""
How values cross between the ROS executor thread, the hub link's loop and helper threads.

Each piece of state has one owner; these tests pin the hand-offs (pure, no ROS graph).
"""

import asyncio
import threading

from artbot_bridge.core.loop_thread import LoopThread, LoopThreadError, settle, settle_from_thread
import pytest


@pytest.fixture
def loop_thread():
    thread = LoopThread('test-loop')
    thread.start()
    yield thread
    thread.stop()


def test_ask_runs_on_the_loop_thread_and_hands_the_value_back(loop_thread):
    asker = threading.get_ident()
    ran_on = loop_thread.ask(threading.get_ident)
    assert ran_on != asker
    assert ran_on == loop_thread.ask(lambda: loop_thread.loop._thread_id)


def test_ask_hands_an_error_back_and_refuses_once_stopping(loop_thread):
    with pytest.raises(ZeroDivisionError):
        loop_thread.ask(lambda: 1 / 0)
    loop_thread.stop()
    with pytest.raises(LoopThreadError, match='stopping'):
        loop_thread.ask(lambda: 1, timeout=5.0)  # at once, not after the timeout


def test_ask_times_out_when_the_loop_is_busy(loop_thread):
    release = threading.Event()
    loop_thread.call_soon(release.wait, 5.0)  # the loop blocked by a callback
    try:
        with pytest.raises(LoopThreadError, match='did not answer'):
            loop_thread.ask(lambda: 1, timeout=0.2)
    finally:
        release.set()


def test_settle_from_another_thread_completes_the_future_once(loop_thread):
    async def waiter():
        future = asyncio.get_running_loop().create_future()
        threading.Thread(target=settle_from_thread, args=(future, 'first')).start()
        value = await future
        settle(future, 'second')  # already done: ignored, no InvalidStateError
        return value

    assert loop_thread.run(waiter(), timeout=5.0) == 'first'


def test_settle_from_thread_reports_a_closed_loop():
    loop = asyncio.new_event_loop()
    future = loop.create_future()
    loop.close()
    assert settle_from_thread(future, 1) is False
    assert not future.done()


def test_an_error_is_handed_over_as_the_futures_exception(loop_thread):
    async def waiter():
        future = asyncio.get_running_loop().create_future()
        threading.Thread(target=settle_from_thread,
                         args=(future, None, KeyError('gone'))).start()
        return await future

    with pytest.raises(KeyError, match='gone'):
        loop_thread.run(waiter(), timeout=5.0)
