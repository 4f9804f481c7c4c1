"""StatusBoard with real generated messages (no rclpy): meanings, flat keys, staleness."""

import math

from artbot_bridge.settings import build_settings
from artbot_bridge.status import StatusBoard
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def board(clock):
    settings = build_settings({'env_file': '', 'stale_after': 5.0}, [
        {'name': 'battery', 'topic': '/battery_state', 'type': 'sensor_msgs/BatteryState',
         'presence': 'create3_connected', 'stale_after': 2.0},
        {'name': 'dock', 'topic': '/dock', 'type': 'std_msgs/msg/Bool',
         'flat': ['is_docked=data']},
        {'name': 'odom', 'topic': '/odom', 'type': 'nav_msgs/msg/Odometry',
         'fields': ['pose.pose.position.x', 'twist.twist.linear.x']},
    ], {})
    return StatusBoard(settings, clock)


def test_never_received_sources_are_stale_and_flat_keys_null():
    status = board(Clock()).robot_status()
    assert status['battery_level'] is None and status['is_charging'] is None
    assert status['create3_connected'] is False and status['is_docked'] is None
    assert all(source['stale'] and source['data'] is None
               for source in status['sources'].values())


def test_battery_state_gets_the_hubs_meaning():
    clock = Clock()
    b = board(clock)
    b.slots['battery'].store(BatteryState(
        percentage=0.873, voltage=15.2, current=-1.5,
        power_supply_status=BatteryState.POWER_SUPPLY_STATUS_DISCHARGING, present=True))
    b.slots['dock'].store(Bool(data=True))
    odom = Odometry()
    odom.pose.pose.position.x = 1.25
    b.slots['odom'].store(odom)
    status = b.robot_status()
    assert status['battery_level'] == 87.3 and status['is_charging'] is False
    assert status['is_docked'] is True and status['create3_connected'] is True
    assert status['sources']['battery']['data']['power_supply_status'] == 'discharging'
    assert status['sources']['odom']['data'] == {'pose.pose.position.x': 1.25,
                                                 'twist.twist.linear.x': 0.0}
    assert list(status)[-1] == 'sources'
    assert b.flat_keys() == {k: v for k, v in status.items() if k != 'sources'}


def test_unknown_percentage_falls_back_to_charge_over_capacity():
    b = board(Clock())
    b.slots['battery'].store(BatteryState(percentage=math.nan, charge=1.0, capacity=4.0))
    assert b.flat_keys()['battery_level'] == 25.0


def test_stale_source_reports_stale_not_its_last_value():
    clock = Clock()
    b = board(clock)
    b.slots['battery'].store(BatteryState(percentage=0.5))
    b.slots['dock'].store(Bool(data=True))
    clock.now += 3.0  # battery stale after 2 s, dock (global 5 s) still fresh
    status = b.robot_status()
    assert status['battery_level'] is None and status['create3_connected'] is False
    assert status['sources']['battery']['stale'] and status['sources']['battery']['age_s'] == 3
    assert status['is_docked'] is True and not status['sources']['dock']['stale']
