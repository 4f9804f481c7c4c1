"""StatusBoard with real generated messages (no rclpy): meanings, flat keys, staleness, words."""

import math

from artbot_bridge.core.messages import RobotStatus
from artbot_bridge.core.settings import build_settings
from artbot_bridge.ros.status import MEANINGS, StatusBoard
from harness import ManualClock
from nav_msgs.msg import Odometry
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool


def board(clock):
    settings = build_settings({'env_file': '', 'stale_after': 5.0}, [
        {'name': 'battery', 'topic': '/battery_state', 'type': 'sensor_msgs/BatteryState',
         'presence': 'create3_connected', 'stale_after': 2.0},
        {'name': 'dock', 'topic': '/dock', 'type': 'std_msgs/msg/Bool',
         'flat': ['is_docked=data']},
        {'name': 'odom', 'topic': '/odom', 'type': 'nav_msgs/msg/Odometry',
         'fields': ['pose.pose.position.x', 'twist.twist.linear.x']},
        {'name': 'workspace', 'topic': '/running', 'type': 'std_msgs/msg/Bool',
         'flat': ['workspace_running=data', 'workspace_status=data'],
         'map': ['workspace_status:true=running', 'workspace_status:False=stopped']},
    ], {})
    return StatusBoard(settings, clock)


def test_never_received_sources_are_stale_and_their_flat_keys_left_out():
    status = board(ManualClock()).robot_status()
    assert set(status) == {'create3_connected', 'sources'}  # no null for the hub to choke on
    assert status['create3_connected'] is False
    assert all(source['stale'] and source['data'] is None
               for source in status['sources'].values())


def test_battery_state_gets_the_hubs_meaning():
    clock = ManualClock()
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


def test_a_types_meaning_feeds_keys_the_hubs_robot_record_knows():
    for keys, _ in MEANINGS.values():
        assert set(keys) <= set(RobotStatus.model_fields), keys


def test_unknown_percentage_falls_back_to_charge_over_capacity():
    b = board(ManualClock())
    b.slots['battery'].store(BatteryState(percentage=math.nan, charge=1.0, capacity=4.0))
    assert b.flat_keys()['battery_level'] == 25.0


def test_stale_source_reports_stale_not_its_last_value():
    clock = ManualClock()
    b = board(clock)
    b.slots['battery'].store(BatteryState(percentage=0.5))
    b.slots['dock'].store(Bool(data=True))
    clock.now += 3.0  # battery stale after 2 s, dock (global 5 s) still fresh
    status = b.robot_status()
    assert 'battery_level' not in status and 'is_charging' not in status
    assert status['create3_connected'] is False
    assert status['sources']['battery']['stale'] and status['sources']['battery']['age_s'] == 3
    assert status['is_docked'] is True and not status['sources']['dock']['stale']


def test_unknown_battery_level_is_left_out_not_null():
    b = board(ManualClock())
    b.slots['battery'].store(BatteryState(percentage=math.nan, capacity=0.0))
    flat = b.flat_keys()
    assert 'battery_level' not in flat and flat['is_charging'] is False


def test_map_turns_a_value_into_the_hubs_word_and_keeps_the_raw_key():
    b = board(ManualClock())
    b.slots['workspace'].store(Bool(data=True))
    assert b.flat_keys()['workspace_status'] == 'running'
    assert b.flat_keys()['workspace_running'] is True
    b.slots['workspace'].store(Bool(data=False))
    assert b.flat_keys()['workspace_status'] == 'stopped'
