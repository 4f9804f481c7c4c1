"""The hub's clock and command deadlines, from recorded samples (rclpy-free, no network)."""

from datetime import datetime, timezone
from email.utils import format_datetime
import math

from artbot_bridge.core.clock import date_header, DATE_SPAN, hub_stamp, HubClock, Interval
from artbot_bridge.core.deadline import Deadline, expired
import pytest

HUB_EPOCH = 1_796_000_000.0  # the hub's Unix time when this robot's monotonic clock reads 0
MOTION = Deadline(1.0, unsure_runs=False)
QUERY = Deadline(1.0, unsure_runs=True)


class Robot:
    """This robot's clocks: monotonic from 0, its wall clock `off` seconds from the hub's."""

    def __init__(self, off: float = 0.0) -> None:
        self.now = 1000.0
        self.off = off

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return HUB_EPOCH + self.now + self.off


def hub_time(at: float) -> float:
    return HUB_EPOCH + at


def date_of(at: float, hub_off: float = 0.0) -> str:
    """Return the `Date` header the hub writes at robot monotonic time `at` (1 s resolution)."""
    moment = datetime.fromtimestamp(math.floor(hub_time(at) + hub_off), timezone.utc)
    return format_datetime(moment, usegmt=True)


def stamp_of(at: float, hub_off: float = 0.0) -> str:
    """Return the stamp the hub puts on a command at monotonic time `at`: naive UTC ISO."""
    return datetime.fromtimestamp(hub_time(at) + hub_off, timezone.utc).replace(
        tzinfo=None).isoformat()


def clock_for(robot: Robot) -> HubClock:
    return HubClock(monotonic=robot.monotonic, wall=robot.wall)


def register(clock: HubClock, robot: Robot, round_trip: float = 0.02,
             hub_off: float = 0.0, answered_after: float = 0.01) -> None:
    """One registration: the request goes out now, the hub answers, the answer comes in."""
    sent = robot.now
    clock.registered(date_of(sent + answered_after, hub_off), sent, sent + round_trip)
    robot.now += round_trip


def test_the_hubs_timestamps_and_date_headers_are_read_as_utc():
    assert hub_stamp('2026-12-07T08:14:18.123456') == pytest.approx(
        datetime(2026, 12, 7, 8, 14, 18, 123456, timezone.utc).timestamp())
    assert hub_stamp('2026-12-07T08:14:18Z') == hub_stamp('2026-12-07T09:14:18+01:00')
    for bad in (None, 17, '', 'yesterday', '2026-13-40T00:00:00', 'x' * 65, ['2026']):
        assert hub_stamp(bad) is None, bad
    assert date_header('Mon, 07 Dec 2026 08:14:18 GMT') == hub_stamp('2026-12-07T08:14:18')
    assert date_header('not a date') is None and date_header(None) is None


def test_a_date_header_alone_knows_the_offset_within_its_span():
    robot = Robot(off=37.25)  # no NTP: this robot's wall clock is 37.25 s ahead of the hub's
    clock = clock_for(robot)
    assert clock.offset() is None and clock.warning() == ''
    register(clock, robot)
    offset = clock.offset()
    assert offset.lo <= 37.25 <= offset.hi and offset.half <= DATE_SPAN / 2 + 0.02
    warning = clock.warning()
    assert f'{offset.mid:.1f} s' in warning and 'ahead of' in warning and 'NTP' in warning
    assert clock.warning() == '', 'warned once'
    report = clock.report()
    assert report['clock_offset_s'] == pytest.approx(37.25, abs=DATE_SPAN / 2 + 0.02)


def test_a_robot_clock_in_step_is_not_warned_about():
    robot = Robot(off=0.3)
    clock = clock_for(robot)
    register(clock, robot)
    assert clock.warning() == ''


def test_commands_that_arrive_in_one_round_trip_narrow_the_estimate():
    robot = Robot()
    clock = clock_for(robot)
    register(clock, robot)
    clock.round_trip(0.01)
    for _ in range(5):
        robot.now += 1.0
        age = clock.age(stamp_of(robot.now - 0.004))  # each took 4 ms on the way
        assert 0.0 <= age.lo and age.hi <= 0.011 + 1e-6, age
    assert clock.offset().half <= 0.006


def test_a_command_late_by_thirty_seconds_is_expired_even_as_the_first():
    robot = Robot()
    clock = clock_for(robot)
    register(clock, robot)
    robot.now += 40.0
    age = clock.age(stamp_of(robot.now - 30.0))  # stamped, then held in a stalled link
    assert age.lo > 28.9 and age.mid == pytest.approx(30.0, abs=DATE_SPAN / 2 + 0.1)
    answer = expired(age, MOTION)
    assert answer['reason'] == 'expired' and answer['max_age'] == 1.0
    assert answer['age'] == pytest.approx(30.0, abs=DATE_SPAN / 2 + 0.1)
    assert 'not run' in answer['message'] and 'over max_age 1 s' in answer['message']
    robot.now += 1.0
    fresh = clock.age(stamp_of(robot.now - 0.005))
    assert expired(fresh, MOTION) is None, 'a fresh command after the late one runs'


def test_a_late_command_is_still_late_after_fresh_ones_taught_the_delay():
    robot = Robot()
    clock = clock_for(robot)
    register(clock, robot)
    clock.round_trip(0.01)
    for _ in range(3):
        robot.now += 0.5
        assert expired(clock.age(stamp_of(robot.now - 0.005)), MOTION) is None
    robot.now += 0.5
    late = clock.age(stamp_of(robot.now - 1.5))
    assert late.mid == pytest.approx(1.5, abs=0.02)
    assert expired(late, MOTION)['age'] == pytest.approx(1.5, abs=0.02)


def test_with_no_date_the_age_is_unsure_and_the_row_decides():
    robot = Robot()
    clock = clock_for(robot)  # a hub (or proxy) that sends no Date header
    clock.registered(None, robot.now, robot.now + 0.02)
    age = clock.age(stamp_of(robot.now))
    assert age.lo == pytest.approx(0.0) and math.isinf(age.hi)
    refused = expired(age, MOTION)
    assert refused['reason'] == 'expired' and refused['uncertainty'] is None
    assert 'not known' in refused['message']
    assert expired(age, QUERY) is None, 'a status query runs anyway'
    assert clock.offset() is None


def test_a_command_without_a_readable_stamp_runs_and_is_counted():
    clock = clock_for(Robot())
    assert clock.age(None) is None and clock.age('noon') is None
    assert expired(None, MOTION) is None
    assert clock.report()['commands_unstamped'] == 2


def test_no_bound_means_no_expiry():
    assert expired(Interval(3600.0, 3601.0), Deadline(0.0, False)) is None


def test_a_stepped_hub_clock_drops_the_older_date():
    robot = Robot()
    clock = clock_for(robot)
    register(clock, robot)
    robot.now += 100.0
    register(clock, robot, hub_off=-20.0)  # the hub's clock was stepped 20 s back
    age = clock.age(stamp_of(robot.now, hub_off=-20.0))
    assert expired(age, MOTION) is None and age.half < 0.6


def test_a_stamp_ahead_of_the_hubs_date_tightens_nothing_and_is_counted():
    robot = Robot()
    clock = clock_for(robot)
    register(clock, robot)
    before = clock.phase()
    age = clock.age(stamp_of(robot.now + 50.0))  # a stamp from the future
    assert clock.phase() == before and clock.ahead == 1
    assert expired(age, QUERY) is None  # a negative age, not known within the bound
    assert expired(age, MOTION)['reason'] == 'expired'  # a motion row refuses it
    later = clock.age(stamp_of(robot.now - 30.0))
    assert expired(later, MOTION)['age'] == pytest.approx(30.0, abs=DATE_SPAN / 2 + 0.1)


def test_old_evidence_widens_with_drift():
    robot = Robot()
    clock = clock_for(robot)
    register(clock, robot)
    fresh = clock.phase().half
    robot.now += 86400.0  # a day later, no new registration
    assert clock.phase().half == pytest.approx(fresh + 86400.0 * 1e-4, rel=0.01)


def test_an_unsure_age_far_over_the_bound_is_still_expired():
    age = Interval(5.0, math.inf)  # at least 5 s old, upper end unknown
    assert expired(age, QUERY)['age'] == 5.0
