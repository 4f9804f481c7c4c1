"""Outbound frames: what `protocol.encode` guarantees the real hub, and the card's keys."""

import json
import math

from artbot_bridge.core.messages import HEARTBEAT_NUMBERS, is_number, STATUS_NUMBERS
from artbot_bridge.core.protocol import encode
from artbot_bridge.core.settings import build_settings
from artbot_bridge.devhub.realhub import acceptance_error, api_error, frame_error
from artbot_bridge.ros.status import StatusBoard
from artbot_bridge.ros.telemetry import RobotTelemetry
from harness import ManualClock
from hypothesis import given, settings, strategies as st
import pytest
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool


def data_of(frame: str) -> dict:
    message = json.loads(frame)
    assert isinstance(message, dict) and isinstance(message['data'], dict)
    return message['data']


@pytest.mark.parametrize('bad', [None, 'n/a', math.nan, math.inf, True, [1], {'v': 1},
                                 10 ** 400])
def test_a_health_key_that_is_not_a_finite_number_is_left_out(bad):
    heartbeat = data_of(encode('heartbeat', 'a', {key: bad for key in HEARTBEAT_NUMBERS}))
    status = data_of(encode('robot_status', 'a', {key: bad for key in STATUS_NUMBERS}))
    assert heartbeat == {} and status == {}


def test_nan_and_infinity_anywhere_never_make_a_frame_fail():
    sources = {'imu': {'data': [math.nan, 1.0]}}
    data = data_of(encode('robot_status', 'a', {'rtt_ms': math.inf, 'odd': math.nan,
                                                'sources': sources}))
    assert data == {'sources': {'imu': {'data': [None, 1.0]}}}


def test_numbers_and_other_keys_pass_and_top_level_nulls_are_left_out():
    data = {'cpu_percent': 12.5, 'battery_level': 80, 'rtt_ms': None, 'workspace_running': False,
            'sources': {'battery': {'age_s': None}}}
    sent = data_of(encode('heartbeat', 'a', data))
    assert sent == {'cpu_percent': 12.5, 'battery_level': 80, 'workspace_running': False,
                    'sources': {'battery': {'age_s': None}}}  # nested detail keeps its nulls
    assert data['rtt_ms'] is None  # the caller's dict is not changed


def test_log_entry_in_the_hubs_words():
    entry = data_of(encode('log_entry', 'a', {'level': 'warn', 'message': 'low battery',
                                              'source': 'rosout', 'logger': 'motor'}))
    assert entry['level'] == 'WARNING' and entry['message'] == 'low battery'
    assert entry['source'] == 'rosout' and entry['timestamp']
    assert entry['details'] == {'logger': 'motor'}  # the one extra key the hub files
    for ros, hub in (('debug', 'DEBUG'), ('info', 'INFO'), ('error', 'ERROR'),
                     ('fatal', 'CRITICAL')):
        assert data_of(encode('log_entry', 'a', {'level': ros, 'message': ''}))['level'] == hub
    bare = data_of(encode('log_entry', 'a', {'message': 'x'}))
    assert bare['level'] == 'INFO' and bare['source'] == 'artbot_bridge' and 'details' not in bare


class Sampler:
    """The heartbeat's host metrics as a host without battery or sensor reports them."""

    def sample(self):
        return {'cpu_percent': 3.0, 'memory_percent': 40.0, 'temperature': None,
                'battery_level': None, 'uptime': 12}

    def uptime(self):
        return 12


def telemetry(clock=ManualClock()):
    settings = build_settings({'env_file': ''}, [
        {'name': 'battery', 'topic': '/battery_state', 'type': 'sensor_msgs/msg/BatteryState',
         'presence': 'create3_connected'},
        {'name': 'dock', 'topic': '/dock', 'type': 'std_msgs/msg/Bool',
         'flat': ['is_docked=data']},
        {'name': 'workspace', 'topic': '/running', 'type': 'std_msgs/msg/Bool',
         'flat': ['workspace_running=data', 'workspace_status=data'],
         'map': ['workspace_status:true=running', 'workspace_status:false=stopped']},
        {'name': 'oak', 'topic': '/oak', 'type': 'std_msgs/msg/Bool',
         'presence': 'oak_camera_connected'},
    ], {})
    return RobotTelemetry(StatusBoard(settings, clock), 'Hall 2', Sampler())


def test_every_tile_of_the_card_and_the_heartbeats_twins():
    tel = telemetry()
    tel.board.slots['battery'].store(BatteryState(
        percentage=0.5, power_supply_status=BatteryState.POWER_SUPPLY_STATUS_DISCHARGING))
    tel.board.slots['dock'].store(Bool(data=False))
    tel.board.slots['workspace'].store(Bool(data=True))
    tel.board.slots['oak'].store(Bool(data=True))
    status = data_of(encode('robot_status', 'a', tel.robot_status()))
    card = {'status': 'online', 'battery_level': 50.0, 'battery': 50.0,
            'workspace_status': 'running', 'uptime_seconds': 12, 'oak_camera_connected': True,
            'create3_connected': True, 'location': 'Hall 2'}
    assert card.items() <= status.items(), status
    heartbeat = data_of(encode('heartbeat', 'a', tel.heartbeat()))
    assert {'battery_level': 50.0, 'workspace_running': True, 'oak_connected': True,
            'create3_connected': True, 'create3_status': 'active',
            'uptime': 12}.items() <= heartbeat.items(), heartbeat
    assert 'temperature' not in heartbeat  # no sensor on this host: left out, never null


def test_before_any_message_nothing_unknown_is_sent():
    tel = telemetry()
    status = data_of(encode('robot_status', 'a', tel.robot_status()))
    assert not any(value is None for value in status.values())
    assert status['create3_connected'] is False and status['oak_camera_connected'] is False
    assert 'battery_level' not in status and 'battery' not in status
    heartbeat = data_of(encode('heartbeat', 'a', tel.heartbeat()))
    assert heartbeat['create3_status'] == 'disconnected' and heartbeat['oak_connected'] is False
    assert all(is_number(heartbeat[key]) for key in HEARTBEAT_NUMBERS if key in heartbeat)


# -- property: whatever the robot and the host report, the real hub's reader survives --------

HOST_VALUES = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                        st.integers(min_value=-10 ** 30, max_value=10 ** 30), st.booleans(),
                        st.text(max_size=5))


class AnySampler:
    def __init__(self, metrics):
        self.metrics = metrics

    def sample(self):
        return dict(self.metrics)

    def uptime(self):
        return 7


@settings(max_examples=300, deadline=None)
@given(metrics=st.fixed_dictionaries({key: HOST_VALUES for key in (
           'cpu_percent', 'memory_percent', 'temperature', 'battery_level', 'rtt_ms')}),
       percentage=st.floats(allow_nan=True, allow_infinity=True),
       charge=st.floats(allow_nan=True), capacity=st.floats(allow_nan=True),
       states=st.fixed_dictionaries({name: st.sampled_from(['never', 'fresh', 'stale'])
                                     for name in ('battery', 'dock', 'workspace', 'oak')}),
       running=st.booleans(), location=st.sampled_from(['', 'Hall 2']))
def test_every_frame_passes_the_real_hubs_acceptance_check(metrics, percentage, charge, capacity,
                                                           states, running, location):
    clock = ManualClock()
    clock.now = 100.0
    tel = telemetry(clock)
    tel.sampler, tel.location = AnySampler(metrics), location
    messages = {'battery': BatteryState(percentage=percentage, charge=charge, capacity=capacity),
                'dock': Bool(data=running), 'workspace': Bool(data=running),
                'oak': Bool(data=True)}
    for name, state in states.items():
        if state != 'never':
            clock.now = 100.0 - (60.0 if state == 'stale' else 0.0)  # when it arrived
            tel.board.slots[name].store(messages[name])
    clock.now = 100.0
    for kind, data in (('heartbeat', tel.heartbeat()), ('robot_status', tel.robot_status())):
        frame = encode(kind, 'probe', data)
        assert frame_error(frame) is None, frame
        assert acceptance_error(kind, json.loads(frame)['data']) is None, frame
        assert api_error(json.loads(frame)['data']) is None, frame
