"""The built-in commands without ROS: handed plain callables, run on an event loop."""

import asyncio
import json
import logging
import os
from pathlib import Path
import subprocess
import sys
import time

from artbot_bridge.core.builtin_actions import BuiltIns, MAX_LOG_LINES, NAMES
from artbot_bridge.core.dispatcher import CommandError, Dispatcher
from artbot_bridge.core.protocol import parse_command
from artbot_bridge.core.settings import build_settings, SettingsError
import pytest

ROOT = Path(__file__).resolve().parent.parent


def command(action, **parameters):
    return parse_command(json.dumps({'command_id': f'{action}-1', 'action': action,
                                     'type': 'robot_command', 'parameters': parameters}))


class Robot:
    """What the bridge hands the built-ins, recording how it is used."""

    def __init__(self):
        self.asked = []
        self.reconnects = []

    def status(self):
        return {'robot_status': {'battery': 0.5}, 'link': {'state': 'connected'}}

    def recent_logs(self, lines):
        self.asked.append(lines)
        return [{'message': f'line {i}'} for i in range(min(lines, 3))]

    async def reconnect(self):
        self.reconnects.append(time.monotonic())


@pytest.fixture
def robot():
    return Robot()


def handle(robot, action, **parameters):
    handlers = BuiltIns(robot.status, robot.recent_logs, robot.reconnect).handlers()
    return asyncio.run(handlers[action](command(action, **parameters)))


def test_the_handlers_are_exactly_the_names_the_settings_refuse():
    assert NAMES == ('status', 'ping', 'get_logs', 'reconnect')
    handlers = BuiltIns(dict, list, asyncio.sleep).handlers()
    assert tuple(handlers) == NAMES
    for name in NAMES:
        with pytest.raises(SettingsError, match='is a built-in command'):
            build_settings({'agent_id': 'bot', 'env_file': ''}, [], {}, commands=[
                {'name': name, 'service': '/x', 'type': 'std_srvs/srv/Trigger'}])


def test_ping_answers_pong_with_the_time(robot):
    before = time.time()
    success, data = handle(robot, 'ping')
    assert success is True and data['message'] == 'pong'
    assert before <= data['result']['time'] <= time.time()


def test_status_answers_the_snapshot_it_is_handed(robot):
    assert handle(robot, 'status') == (True, {'message': 'status', 'result': robot.status()})


def test_get_logs_asks_for_the_lines_wanted(robot):
    success, data = handle(robot, 'get_logs')
    assert robot.asked == [50] and success is True
    assert data == {'message': '3 log lines',
                    'result': {'logs': [{'message': f'line {i}'} for i in range(3)]}}
    handle(robot, 'get_logs', lines=MAX_LOG_LINES)
    handle(robot, 'get_logs', lines=1)
    assert robot.asked == [50, 500, 1]


@pytest.mark.parametrize('lines', [0, -1, 501, True, 2.0, '5', None])
def test_get_logs_refuses_a_bad_count_naming_the_field(robot, lines):
    with pytest.raises(CommandError, match="'lines' must be an integer from 1 to 500") as err:
        handle(robot, 'get_logs', lines=lines)
    assert err.value.data == {'field': 'lines'} and robot.asked == []


def test_reconnect_answers_first_then_reconnects_once(robot):
    async def scenario():
        handlers = BuiltIns(robot.status, robot.recent_logs, robot.reconnect).handlers()
        answered = time.monotonic()
        outcome = await handlers['reconnect'](command('reconnect'))
        assert outcome == (True, {'message': 'reconnecting'}) and robot.reconnects == []
        await asyncio.sleep(0.3)
        return answered
    answered = asyncio.run(scenario())
    assert len(robot.reconnects) == 1 and robot.reconnects[0] - answered >= 0.09


def test_a_refusal_reaches_the_hub_as_one_answer_with_the_field(robot):
    sent = []

    async def scenario():
        handlers = BuiltIns(robot.status, robot.recent_logs, robot.reconnect).handlers()
        dispatcher = Dispatcher('bot', handlers, sent.append, logging.getLogger('test'))
        dispatcher.on_command(command('get_logs', lines=0))
        dispatcher.on_command(command('status'))
        await dispatcher.drain(1.0)
    asyncio.run(scenario())
    answers = {a['command_id']: a for a in map(json.loads, sent)}
    assert answers['get_logs-1']['success'] is False
    assert answers['get_logs-1']['data']['field'] == 'lines'
    assert answers['status-1']['data']['result'] == robot.status()


def test_the_built_ins_load_without_ros():
    code = ('import sys, artbot_bridge.core.builtin_actions; '
            'print([m for m in sys.modules if m.split(".")[0] == "rclpy" '
            'or m.startswith("artbot_bridge.ros")])')
    found = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                           check=True, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    assert found.stdout.strip() == '[]'
