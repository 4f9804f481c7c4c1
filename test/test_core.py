"""Pure tests of the rclpy-free core: settings, backoff, protocol, outbox."""

import asyncio
import json

from artbot_bridge.core.backoff import Backoff
from artbot_bridge.core.env import read_env_file
from artbot_bridge.core.outbox import LOGS, Outbox, RESPONSES, STREAM
from artbot_bridge.core.protocol import command_response, encode, parse_command, ProtocolError
from artbot_bridge.core.settings import build_settings, SettingsError
import pytest


def settings(**values):
    return build_settings({'env_file': '', **values}, [], {})


@pytest.mark.parametrize('url,ws,register', [
    ('http://hub:8000', 'ws://hub:8000/ws/agent/bot', 'http://hub:8000/api/agents/register'),
    ('https://hub.example:443/', 'wss://hub.example:443/ws/agent/bot',
     'https://hub.example:443/api/agents/register'),
    ('ws://hub:8000/custom/path', 'ws://hub:8000/custom/path',
     'http://hub:8000/api/agents/register'),
    ('wss://hub/ws/agent/bot', 'wss://hub/ws/agent/bot', 'https://hub/api/agents/register'),
    ('https://proxy.example/artbot/', 'wss://proxy.example/artbot/ws/agent/bot',
     'https://proxy.example/artbot/api/agents/register'),  # a hub behind a path is used
])
def test_hub_url_forms(url, ws, register):
    s = settings(hub_url=url, agent_id='bot')
    assert (s.ws_url, s.register_url) == (ws, register)


@pytest.mark.parametrize('url', ['http://hub:8000/?x=1', 'http://user:pw@hub:8000',
                                 'http://hub:8000/#top'])
def test_hub_url_parts_that_would_be_dropped_are_refused(url):
    with pytest.raises(SettingsError, match='hub_url'):
        settings(hub_url=url)


@pytest.mark.parametrize('token', ['first-line\nsecond-line', 'two words', 'tab\there'])
def test_a_token_that_is_not_one_header_line_is_refused_without_showing_it(token, tmp_path):
    with pytest.raises(SettingsError) as from_env:
        build_settings({'env_file': ''}, [], {'HUB_TOKEN': token})
    token_file = tmp_path / 'token'
    token_file.write_text(token + '\n')
    with pytest.raises(SettingsError) as from_file:
        build_settings({'env_file': '', 'hub_token_file': str(token_file)}, [], {})
    for err in (from_env, from_file):
        text = str(err.value)
        assert 'hub token' in text
        assert not any(part in text for part in token.split()), text  # never echoed
    assert settings().hub_token.get_secret_value() == ''
    ok = build_settings({'env_file': ''}, [], {'HUB_TOKEN': ' abc.DEF-123_~+/= \n'})
    assert ok.hub_token.get_secret_value() == 'abc.DEF-123_~+/='


def test_agent_id_defaults_to_hostname():
    import socket
    assert settings().agent_id == socket.gethostname()


def test_environment_overrides_env_file_which_overrides_parameters(tmp_path):
    env_file = tmp_path / '.env'
    env_file.write_text("HUB_URL=http://from-file:1\nHEARTBEAT_INTERVAL='5'\n")
    s = build_settings({'hub_url': 'http://param:1', 'env_file': str(env_file)}, [],
                       {'HUB_URL': 'http://from-env:2'})
    assert s.hub_url == 'http://from-env:2' and s.heartbeat_interval == 5.0


def test_env_file_syntax(tmp_path):
    path = tmp_path / '.env'
    path.write_text('# comment\n\nexport A=1\nB = "two words"\nnot a line\n')
    assert read_env_file(str(path)) == {'A': '1', 'B': 'two words'}
    assert read_env_file(str(tmp_path / 'missing')) == {}


def test_errors_name_the_setting_and_its_origin():
    with pytest.raises(SettingsError, match=r"parameter 'ping_timeout'.*greater than"):
        settings(ping_timeout=0)
    with pytest.raises(SettingsError, match=r'env HEARTBEAT_INTERVAL.*abc'):
        build_settings({'env_file': ''}, [], {'HEARTBEAT_INTERVAL': 'abc'})
    with pytest.raises(SettingsError, match=r"'b.stale_after'"):
        build_settings({'env_file': ''}, [{'name': 'b', 'topic': '/b', 'type': 'a/B',
                                           'stale_after': -1}], {})
    with pytest.raises(SettingsError, match='listed twice'):
        build_settings({'env_file': ''}, [{'name': 'b', 'topic': '/b', 'type': 'a/B'}] * 2, {})


def test_motion_rows_get_a_deadline_and_leases_need_a_stop_message():
    def row(**fields):
        return build_settings({'env_file': ''}, [], {}, [{'name': 'r', **fields}]).commands[0]
    drive = row(topic='/cmd_vel', type='geometry_msgs/msg/TwistStamped', lease=0.5)
    assert (drive.max_age, drive.when_unsure, drive.stop) == (1.0, 'refuse', ())
    goal = row(action='/navigate', type='nav2_msgs/action/NavigateToPose')
    assert (goal.max_age, goal.when_unsure) == (10.0, 'refuse')
    query = row(service='/status', type='std_srvs/srv/Trigger')
    assert (query.max_age, query.when_unsure) == (0.0, 'run')
    flag = row(topic='/flag', type='std_msgs/msg/Bool', lease=1, stop=['data=false'],
               max_age=2, when_unsure='run')
    assert (flag.stop, flag.max_age, flag.when_unsure) == ((('data', False),), 2.0, 'run')
    refusals = [({'service': '/s', 'type': 'std_srvs/srv/Trigger', 'lease': 1.0},
                 'lease and stop are for topic rows'),
                ({'topic': '/flag', 'type': 'std_msgs/msg/Bool', 'lease': 1.0},
                 'needs its stop message'),
                ({'topic': '/flag', 'type': 'std_msgs/msg/Bool', 'stop': ['data=false']},
                 'without a lease'),
                ({'topic': '/flag', 'type': 'std_msgs/msg/Bool', 'lease': 1, 'stop': ['data']},
                 "'r.stop'.*field.path=value"),
                ({'topic': '/c', 'type': 'geometry_msgs/msg/Twist', 'when_unsure': 'maybe'},
                 "'r.when_unsure'"),
                ({'topic': '/c', 'type': 'geometry_msgs/msg/Twist', 'max_age': -1},
                 "'r.max_age'")]
    for fields, message in refusals:
        with pytest.raises(SettingsError, match=message):
            row(**fields)


def test_backoff_grows_to_cap_with_jitter_and_resets_after_a_lived_connection():
    backoff = Backoff(initial=0.5, cap=4.0, reset_after=10.0, jitter=0.25, rand=lambda: 1.0)
    delays = [backoff.next_delay(0.0) for _ in range(6)]
    assert delays == [0.5, 0.75, 1.5, 3.0, 3.0, 3.0]  # doubling, capped, minus 25 % jitter
    assert backoff.next_delay(0.01) == 3.0  # a handshake closed at once is a failure too
    assert backoff.next_delay(10.0) == 0.5  # a connection that lived starts again
    assert Backoff(0.5, 4.0, 10.0, rand=lambda: 0.0).next_delay(0) == 0.5
    assert backoff.penalize() == 4.0


def test_backoff_never_below_initial():
    backoff = Backoff(initial=1.0, cap=1.0, reset_after=1.0, jitter=0.9, rand=lambda: 1.0)
    assert all(backoff.next_delay(0) >= 1.0 for _ in range(5))


@pytest.mark.parametrize('frame,reason,command_id', [
    (b'\x00\x01', 'binary frame', None),
    ('{not json', 'not JSON', None),
    ('[1, 2]', 'JSON object', None),
    ('{"action": "status"}', "'command_id'", None),
    ('{"command_id": "c1", "action": 5}', "'action'", 'c1'),
    ('{"command_id": "c2", "action": "x", "parameters": []}', "'parameters'", 'c2'),
    ('{"command_id": "c3", "action": "x", "type": "other"}', "'type'", 'c3'),
    (b'{"command_id": "c4", "action": "ping"}', 'binary frame', 'c4'),
    ('{"command_id": "c5", "action": "ping", "parameters": {"a": "\\udc00"}}',
     'not valid Unicode', 'c5'),
    ('{"command_id": "\\ud800", "action": "ping"}', 'not valid Unicode', None),
    (json.dumps({'command_id': 'x' * 201, 'action': 'ping'}), "'command_id'", None),
])
def test_bad_frames_become_protocol_errors(frame, reason, command_id):
    with pytest.raises(ProtocolError) as caught:
        parse_command(frame)
    assert reason in caught.value.reason and caught.value.command_id == command_id


def test_command_parses_as_the_hub_sends_it():
    command = parse_command(json.dumps({
        'command_id': 'c', 'robot_id': 'bot', 'type': 'robot_command', 'action': 'status',
        'parameters': {'a': 1}, 'timestamp': '2026-11-28T03:31:55', 'status': 'pending'}))
    assert (command.command_id, command.action, command.parameters) == ('c', 'status', {'a': 1})


def test_outbound_frames_are_json_objects_with_the_envelope():
    frame = json.loads(encode('heartbeat', 'bot', {'cpu_percent': 1.5, 'odd': {1, 2}}))
    assert frame['type'] == 'heartbeat' and frame['agent_id'] == 'bot' and frame['timestamp']
    assert frame['data']['cpu_percent'] == 1.5
    response = json.loads(command_response('bot', 'c1', 1, {'message': 'ok'}))
    assert response['command_id'] == 'c1' and response['success'] is True
    assert list(response)[-1] == 'data'


def test_outbox_order_bounds_and_requeue():
    async def scenario():
        outbox = Outbox(max_responses=3, max_logs=1)
        outbox.put_latest('robot_status', 's1')
        outbox.put_latest('heartbeat', 'h1')
        outbox.put_latest('heartbeat', 'h2')
        outbox.put(LOGS, 'l1')
        outbox.put(LOGS, 'l2')  # logs keep the newest N
        for frame in ('r1', 'r2', 'r3', 'r4'):
            outbox.put(RESPONSES, frame)
        assert outbox.dropped == {RESPONSES: 1, LOGS: 1, STREAM: 0}
        got = [(await outbox.get())[:2] for _ in range(6)]
        assert got == [('h2', None), ('s1', None), ('r2', RESPONSES), ('r3', RESPONSES),
                       ('r4', RESPONSES), ('l2', LOGS)]
        outbox.requeue(RESPONSES, 'r3', 7)
        assert outbox.pop() == ('r3', RESPONSES, 7) and outbox.pop() is None
        waiter = asyncio.ensure_future(outbox.get())
        await asyncio.sleep(0)
        outbox.put(RESPONSES, 'late')
        assert await asyncio.wait_for(waiter, 1) == ('late', RESPONSES, None)
    asyncio.run(scenario())


def test_outbox_byte_budget_drops_logs_before_responses():
    forgotten = []
    outbox = Outbox(max_responses=100, max_logs=100, max_bytes=10, on_drop=forgotten.append)
    outbox.put(RESPONSES, 'r1234', 1)
    outbox.put(LOGS, 'l1234')
    outbox.put(LOGS, 'l5678')  # over 10 bytes: the oldest log goes
    assert outbox.dropped == {RESPONSES: 0, LOGS: 1, STREAM: 0} and outbox.queued_bytes == 10
    outbox.put(RESPONSES, 'r5678')  # logs go first
    assert outbox.dropped == {RESPONSES: 0, LOGS: 2, STREAM: 0}
    outbox.put(RESPONSES, 'r9999')  # then the oldest responses
    assert outbox.dropped == {RESPONSES: 1, LOGS: 2, STREAM: 0} and outbox.queued_bytes == 10
    assert forgotten == [1]  # a spooled frame that was dropped is forgotten on disk too
    assert outbox.pop()[0] == 'r5678' and outbox.pop()[0] == 'r9999'
    assert outbox.queued_bytes == 0
