"""The hub's read backlog and stream window from pings, and how the outbox heeds them."""

import asyncio

from artbot_bridge.core.hub_lag import BASE_WINDOW, HubLag
from artbot_bridge.core.outbox import Outbox, RESPONSES, STREAM
from harness import ManualClock
import pytest


class Lag:
    """The hub's backlog and stream window, as the test sets them."""

    def __init__(self, backlog, window_open):
        self.backlog, self.window_open = backlog, window_open


def test_no_ping_in_flight_is_no_backlog_and_a_probe_follows_once_per_interval():
    clock = ManualClock(100.0)
    lag = HubLag(0.01, clock)
    assert lag.backlog() == 0.0 and lag.streamed()  # the first stream frame is probed
    token = lag.sent()
    assert not lag.streamed()  # one probe in flight at a time
    clock.now = 100.002
    lag.answered(token)
    assert lag.backlog() == 0.0 and not lag.streamed()  # answered; 10 ms have not passed
    clock.now = 100.01
    assert lag.streamed()


def test_at_most_a_window_of_stream_frames_is_out_unread_and_a_probe_goes_at_half():
    clock = ManualClock(100.0)
    lag = HubLag(10.0, clock, window=8)
    lag.answered(lag.sent())
    probes = [lag.streamed() for _ in range(4)]
    assert probes == [False, False, False, True] and lag.window_open()  # half the window is out
    token = lag.sent()
    for _ in range(4):
        assert lag.window_open()
        lag.streamed()
    assert not lag.window_open()  # 8 out, none proven read
    lag.answered(token)  # the 4 before the ping are read
    assert lag.window_open()
    lag.reset()
    assert lag.window_open() and lag.backlog() == 0.0


def test_the_backlog_is_what_the_oldest_ping_waits_beyond_the_smallest_round_trip():
    clock = ManualClock(100.0)
    lag = HubLag(0.01, clock)
    for trip in (0.030, 0.020, 0.025):  # a 20 ms network: the smallest trip
        token = lag.sent()
        clock.now += trip
        lag.answered(token)
    first = lag.sent()
    clock.now += 0.005
    lag.sent()
    clock.now += 0.010
    assert lag.backlog() == 0.0  # 15 ms out: within the 20 ms network trip
    clock.now += 0.030  # the first ping has waited 45 ms: 25 ms beyond the network
    assert lag.backlog() == pytest.approx(0.025)
    lag.answered(first)  # the pong of the first; the second is still out, sent 40 ms ago
    assert lag.backlog() == pytest.approx(0.020)


def test_the_network_trip_is_the_smallest_of_the_last_window_only():
    clock = ManualClock(100.0)
    lag = HubLag(0.01, clock)
    token = lag.sent()
    clock.now += 0.001  # 1 ms, once
    lag.answered(token)
    clock.now += BASE_WINDOW + 1.0
    token = lag.sent()
    clock.now += 0.050  # the route changed: 50 ms is the network now
    lag.answered(token)
    lag.sent()
    clock.now += 0.060
    assert lag.backlog() == pytest.approx(0.010)


def test_a_lost_ping_and_a_reset_leave_no_backlog():
    clock = ManualClock(100.0)
    lag = HubLag(0.01, clock)
    token = lag.sent()
    clock.now += 1.0
    lag.lost(token)
    lag.lost(token)  # twice: harmless
    assert lag.backlog() == 0.0
    lag.sent()
    clock.now += 1.0
    lag.reset()
    assert lag.backlog() == 0.0 and lag.streamed()


def test_a_stream_frame_goes_only_if_its_age_and_the_backlog_fit_the_bound():
    clock = ManualClock(100.0)
    backlog = [0.0]
    outbox = Outbox(max_age=0.01, clock=clock, lag=Lag(lambda: backlog[0], lambda: True))
    outbox.put(STREAM, 'a', born=99.996)  # 4 ms old
    outbox.put(STREAM, 'b', born=100.0)
    backlog[0] = 0.008  # the hub reads 8 ms behind: 'a' would reach it 12 ms old
    assert outbox.pop()[0] == 'b' and outbox.stale == 1
    backlog[0] = 0.02  # nothing can reach it in time: not even a new message goes
    assert not outbox.fresh(clock.now) and outbox.stale == 2
    backlog[0] = 0.0
    assert outbox.fresh(clock.now)


def test_a_full_stream_window_holds_stream_frames_only_until_a_pong_wakes_the_sender():
    room = [False]
    outbox = Outbox(lag=Lag(lambda: 0.0, lambda: room[0]))
    outbox.put(STREAM, 'stream')
    outbox.put(RESPONSES, 'answer')
    assert outbox.pop()[0] == 'answer' and outbox.pop() is None  # an answer never waits

    async def sender():
        waiting = asyncio.ensure_future(outbox.get())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        room[0] = True
        outbox.wake()
        return (await asyncio.wait_for(waiting, 1.0))[0]
    assert asyncio.run(sender()) == 'stream'
