"""
The local hub is as harsh as the real Artbot Control Hub: raw sockets and plain HTTP, no bridge.

Each test drives the local hub (in-process, real sockets on 127.0.0.1) with an aiohttp client
and proves one behaviour of docs/hub-protocol.md that an agent has to survive. Every docstring
names the code of the real hub (backend/app/ of itsjustmahmoud/artbot-control-hub) it mirrors.
"""

import asyncio
from email.utils import parsedate_to_datetime
import json
import time
from typing import Any, Awaitable, Callable, Dict, Tuple

import aiohttp
from aiohttp import web
from artbot_bridge.devhub import realhub
from artbot_bridge.devhub.realhub import acceptance_error, frame_error
from artbot_bridge.devhub.server import UvicornDate
from harness import HubHarness
import pytest

NINE = {'cpu_percent': 12.5, 'memory_percent': 33.1, 'temperature': 47.3, 'battery_level': 87.0,
        'workspace_running': True, 'create3_connected': True, 'create3_status': 'ready',
        'oak_connected': True, 'uptime': 42}
DROPPED = object()  # a registration field left out
QUIET = 0.5  # seconds of silence that count as "nothing arrives"


async def until(predicate: Callable[[], Any], what: str, timeout: float = 5.0) -> Any:
    """Poll until `predicate()` is truthy and return it; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        await asyncio.sleep(0.01)


class AgentSocket:
    """One raw agent WebSocket; every send waits until the hub has read the frame."""

    def __init__(self, client: 'Client', agent_id: str, ws: aiohttp.ClientWebSocketResponse):
        self.client = client
        self.hub = client.hub
        self.agent_id = agent_id
        self.ws = ws

    def _count(self, kind: str) -> int:
        return len(self.hub.events(kind, agent_id=self.agent_id))

    async def send_raw(self, frame: Any, expect: str = 'message') -> None:
        """Send one text (str) or binary (bytes) frame; wait for the hub's `expect` event."""
        before = self._count(expect)
        await (self.ws.send_bytes(frame) if isinstance(frame, bytes) else self.ws.send_str(frame))
        await until(lambda: self._count(expect) > before, f'{expect} event for {frame!r:.80}')

    async def send(self, kind: str, data: Any = None, expect: str = 'message',
                   **fields: Any) -> None:
        """Send one agent message in the hub's envelope."""
        message = {'type': kind, 'agent_id': self.agent_id,
                   'timestamp': '2026-11-28T03:31:55.691636', **fields}
        if data is not None:
            message['data'] = data
        await self.send_raw(json.dumps(message), expect)

    async def command(self, timeout: float = 5.0) -> Dict[str, Any]:
        """Return the next command the hub sends."""
        msg = await self.ws.receive(timeout=timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        return json.loads(msg.data)

    async def assert_silent(self) -> None:
        """Check that nothing arrives for QUIET seconds and the socket stays open."""
        with pytest.raises(asyncio.TimeoutError):
            msg = await self.ws.receive(timeout=QUIET)
            pytest.fail(f'the hub sent {msg!r}')
        assert not self.ws.closed

    async def assert_open(self) -> None:
        """Check that the socket is open and the hub has not seen it close."""
        assert not self.ws.closed and self.ws.close_code is None
        await self.ws.ping()
        await asyncio.sleep(0.1)
        assert not self.ws.closed
        assert not self.hub.events('disconnect', agent_id=self.agent_id, zombie=False)

    async def close(self) -> None:
        """Close cleanly and wait for the hub's disconnect event."""
        before = self._count('disconnect')
        await self.ws.close()
        await until(lambda: self._count('disconnect') > before, 'the disconnect')


class Client:
    """HTTP and agent sockets against one local hub."""

    def __init__(self, hub: HubHarness, session: aiohttp.ClientSession) -> None:
        self.hub = hub
        self.session = session

    async def request(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        """Return (status, JSON answer or text)."""
        kwargs = {} if body is None else {'data': json.dumps(body),
                                          'headers': {'Content-Type': 'application/json'}}
        async with self.session.request(method, self.hub.url + path, **kwargs) as answer:
            text = await answer.text()
            try:
                return answer.status, json.loads(text)
            except ValueError:
                return answer.status, text

    async def register(self, agent_id: str, /, **overrides: Any) -> Tuple[int, Any]:
        """Register with a complete body; an override of DROPPED leaves that field out."""
        body = {'agent_id': agent_id, 'hostname': f'{agent_id}-pi', 'ip_address': '127.0.0.1',
                'system_info': {'platform': 'test'}, 'robot_info': {'capabilities': ['ping']},
                **overrides}
        return await self.request('POST', '/api/agents/register',
                                  {k: v for k, v in body.items() if v is not DROPPED})

    async def connect(self, agent_id: str) -> AgentSocket:
        """Open the agent socket (no registration) and wait for the hub's connect event."""
        before = len(self.hub.events('connect', agent_id=agent_id))
        ws = await self.session.ws_connect(f'{self.hub.url}/ws/agent/{agent_id}')
        await until(lambda: len(self.hub.events('connect', agent_id=agent_id)) > before,
                    'the connect')
        return AgentSocket(self, agent_id, ws)

    async def agent(self, agent_id: str) -> AgentSocket:
        """Register, then connect: what every agent must do."""
        status, answer = await self.register(agent_id)
        assert status == 200, answer
        return await self.connect(agent_id)

    async def robot(self, robot_id: str) -> Dict[str, Any]:
        """Return the robot record from GET /api/robots/{id}."""
        status, record = await self.request('GET', f'/api/robots/{robot_id}')
        assert status == 200, record
        return record

    async def command(self, robot_id: str, action: str = 'status') -> Tuple[int, Any]:
        """POST /api/robots/{id}/command."""
        return await self.request('POST', f'/api/robots/{robot_id}/command',
                                  {'action': action, 'parameters': {}})


def run(hub: HubHarness, scenario: Callable[[Client], Awaitable[None]]) -> None:
    """Run a scenario in a loop of the test's own (the hub runs in its own thread)."""
    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            await asyncio.wait_for(scenario(Client(hub, session)), 60)
    asyncio.run(main())


def zombies(hub: HubHarness, agent_id: str) -> list:
    """Return the hub's zombie events of one agent."""
    return hub.events('zombie', agent_id=agent_id)


async def assert_zombie(client: Client, agent: AgentSocket, reason: str) -> None:
    """Check the zombie the real hub leaves: online, open, unread, commands lost (500)."""
    hub, robot_id = client.hub, agent.agent_id
    assert reason in zombies(hub, robot_id)[-1]['reason']
    frozen = await client.robot(robot_id)
    assert frozen['status'] == 'online'
    await agent.send('heartbeat', {'cpu_percent': 99.0}, expect='unread')  # read, ignored
    assert await client.robot(robot_id) == frozen
    await agent.assert_open()
    status, answer = await client.command(robot_id)
    assert (status, answer['detail']) == (
        500, f'Failed to send command: Failed to send command to robot {robot_id}')
    await agent.assert_silent()
    assert not hub.events('command_sent', agent_id=robot_id)


# -- reader death --------------------------------------------------------------------------

@pytest.mark.parametrize('value', [None, '12.5', [12.5]], ids=['null', 'string', 'list'])
@pytest.mark.parametrize('key', ['cpu_percent', 'memory_percent', 'temperature',
                                 'battery_level'])
def test_heartbeat_health_key_not_a_number_makes_a_zombie(hub, key, value):
    """
    A null or non-number health value kills the reader; the socket is dropped, not closed.

    Mirrors RobotManager.update_agent_heartbeat -> update_robot_status ->
    HealthMonitoringService._calculate_health_score (the arithmetic raises) and
    main.websocket_agent's `except Exception`: manager.disconnect only, no remove_agent, so
    the robot stays online and ConnectionManager.send_to_agent finds no socket (routers/robots
    send_robot_command answers 500).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-z')
        await agent.send('heartbeat', {**NINE, key: value}, expect='zombie')
        await assert_zombie(client, agent, 'heartbeat: TypeError')
    run(hub, scenario)


def test_bool_health_value_is_an_int_and_passes(hub):
    """
    A bool passes the health arithmetic, as Python's bool is an int.

    Mirrors HealthMonitoringService._calculate_health_score (True > 50 is False, True * 2.5).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-bool')
        await agent.send('heartbeat', {'battery_level': True, 'cpu_percent': False})
        record = await client.robot('bot-bool')
        assert record['battery_level'] is True and record['cpu_usage'] is False
        assert not zombies(hub, 'bot-bool')
        status, _ = await client.command('bot-bool')
        assert status == 200 and (await agent.command())['action'] == 'status'
    run(hub, scenario)


def test_null_network_latency_in_scored_robot_status_makes_a_zombie(hub):
    """
    Robot_status is scored when it carries battery_level (or cpu/memory/temperature).

    Mirrors RobotManager.update_robot_status (health only if one of the four keys is in the
    data) and _calculate_health_score over network_latency (`latency < 50` raises for None).
    The record keeps what was merged before the score raised (robot_registry.update first).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-lat')
        await agent.send('robot_status', {'battery_level': 55.0, 'network_latency': None},
                         expect='zombie')
        record = await client.robot('bot-lat')
        assert record['network_latency'] is None and record['battery_level'] == 55.0
        await assert_zombie(client, agent, 'robot_status: TypeError')
    run(hub, scenario)


def test_null_network_latency_alone_is_merged_and_not_scored(hub):
    """
    Without one of the four trigger keys the health score does not run: null survives.

    Mirrors RobotManager.update_robot_status's `any(key in status_data for key in
    ['battery_level', 'cpu_usage', 'memory_usage', 'temperature'])`.
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-lat2')
        await agent.send('robot_status', {'network_latency': None, 'is_charging': None})
        assert not zombies(hub, 'bot-lat2')
        record = await client.robot('bot-lat2')
        assert record['network_latency'] is None and record['is_charging'] is None
        status, _ = await client.command('bot-lat2')
        assert status == 200
    run(hub, scenario)


@pytest.mark.parametrize('frame,reason', [
    ('[{"type": "heartbeat"}]', 'JSON list, not an object'),
    ('{"type": "heartbeat", ', 'not JSON'),
    ('"heartbeat"', 'JSON str, not an object'),
    ('null', 'JSON NoneType, not an object'),
    (b'{"type": "heartbeat", "data": {}}', 'binary frame'),
], ids=['array', 'bad-json', 'string', 'null', 'binary'])
def test_frame_that_is_not_a_json_object_makes_a_zombie(hub, frame, reason):
    """
    Only text frames of JSON objects are read; anything else kills the reader.

    Mirrors main.websocket_agent: `websocket.receive_text()` (a binary frame has no "text"),
    `json.loads(data)`, then ConnectionManager.handle_agent_message's `message.get("type")`.
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-frame')
        await agent.send_raw(frame, expect='zombie')
        await assert_zombie(client, agent, reason)
    run(hub, scenario)


def test_robot_status_that_is_not_an_object_makes_a_zombie(hub):
    """
    Robot_status data must be an object: null raises in dict.update.

    Mirrors RobotRegistryService.update_robot_status (`robot.update(status_data)`).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-rsnull')
        await agent.send_raw(json.dumps({'type': 'robot_status', 'data': None}), expect='zombie')
        await assert_zombie(client, agent, 'robot_status: TypeError')
    run(hub, scenario)


@pytest.mark.parametrize('kind,data', [
    ('heartbeat', {'cpu_percent': None}),
    ('heartbeat', {'battery_level': '87'}),
    ('heartbeat', {'cpu_percent': True, 'uptime': None, 'rtt_ms': None}),
    ('heartbeat', {'cpu_percent': -10 ** 400}),
    ('heartbeat', {'temperature': float('nan')}),
    ('heartbeat', 5),
    ('robot_status', {'cpu_usage': 5, 'network_latency': '3'}),
    ('robot_status', {'network_latency': '3'}),
    ('robot_status', {'battery': None, 'status': 'online'}),
    ('log_entry', 'text'),
    ('log_entry', {'level': None}),
    ('command_response', None),
])
def test_acceptance_error_agrees_with_the_hub(hub, kind, data):
    """
    The pure helper predicts the reader's death exactly where the local hub's reader dies.

    Both run the same port of RobotManager, RobotRegistryService and HealthMonitoringService;
    this proves the helper and the socket path do not drift apart.
    """
    expected = acceptance_error(kind, data)
    frame = json.dumps({'type': kind, 'agent_id': 'bot-acc', 'data': data})
    assert frame_error(frame) == (None if expected is None else expected)

    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-acc')
        await agent.send_raw(frame, expect='zombie' if expected else 'message')
        died = zombies(hub, 'bot-acc')
        assert bool(died) == (expected is not None), (expected, died)
        if died:
            assert died[0]['reason'] == expected
    run(hub, scenario)


# -- what the hub keeps ----------------------------------------------------------------------

def test_heartbeat_keeps_only_the_nine_keys(hub):
    """
    A heartbeat copies nine keys (two renamed) and drops every other one.

    Mirrors RobotManager.update_agent_heartbeat's key list (cpu_percent -> cpu_usage,
    memory_percent -> memory_usage, workspace_running also sets current_action).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-nine')
        before = await client.robot('bot-nine')
        extra = {'rtt_ms': 3.2, 'is_charging': True, 'oak_camera_connected': True,
                 'workspace_status': 'running', 'uptime_seconds': 99, 'status': 'offline',
                 'name': 'renamed', 'disk_percent': 10.0}
        await agent.send('heartbeat', {**NINE, **extra})
        record = await client.robot('bot-nine')
        for key in extra:
            assert record.get(key) == before.get(key), key
        assert record['cpu_usage'] == 12.5 and record['memory_usage'] == 33.1
        assert 'cpu_percent' not in record and 'memory_percent' not in record
        for key in ('temperature', 'battery_level', 'workspace_running', 'create3_connected',
                    'create3_status', 'oak_connected', 'uptime'):
            assert record[key] == NINE[key], key
        assert record['current_action'] == 'person_following'
        assert record['status'] == 'online'
        await agent.send('heartbeat', {'workspace_running': False})
        assert (await client.robot('bot-nine'))['current_action'] == 'idle'
    run(hub, scenario)


def test_robot_status_is_merged_flat_and_status_online_brings_it_back(hub):
    """
    Robot_status is merged as-is; `"status": "online"` undoes a status flip.

    Mirrors ConnectionManager.handle_agent_message (robot_status: no registry check) and
    RobotRegistryService.update_robot_status (`robot.update(status_data)`).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-flat')
        sources = {'battery': {'stale': False, 'data': {'voltage': 15.1}}}
        await agent.send('robot_status', {'is_charging': True, 'workspace_status': 'running',
                                          'location': 'Hall 2', 'sources': sources})
        record = await client.robot('bot-flat')
        assert record['is_charging'] is True and record['workspace_status'] == 'running'
        assert record['location'] == 'Hall 2' and record['sources'] == sources
        assert (await client.command('bot-flat', 'start'))[0] == 200
        assert (await client.robot('bot-flat'))['status'] == 'active'
        assert (await client.command('bot-flat'))[0] == 400
        await agent.send('robot_status', {'status': 'online'})
        assert (await client.robot('bot-flat'))['status'] == 'online'
        status, answer = await client.command('bot-flat', 'ping')
        assert status == 200
        assert [(await agent.command())['action'] for _ in range(2)] == ['start', 'ping']
    run(hub, scenario)


def test_robot_status_needs_a_record_not_a_registration(hub):
    """
    Robot_status from an agent with no record is ignored; with one, it needs no registration.

    Mirrors RobotRegistryService.update_robot_status (`if robot_id not in self.robots: return
    False`) and the missing registry check in ConnectionManager.handle_agent_message.
    """
    async def scenario(client: Client) -> None:
        stranger = await client.connect('bot-nobody')
        await stranger.send('robot_status', {'status': 'online'})
        assert (await client.request('GET', '/api/robots/bot-nobody'))[0] == 404
        assert hub.events('robot_status_ignored', agent_id='bot-nobody')

        agent = await client.agent('bot-back')
        await agent.close()
        assert (await client.robot('bot-back'))['status'] == 'offline'
        again = await client.connect('bot-back')  # not registered again
        await again.send('heartbeat', {'cpu_percent': 50.0})  # ignored: agent unknown
        await again.send('robot_status', {'status': 'online'})  # merged all the same
        record = await client.robot('bot-back')
        assert record['status'] == 'online' and record['cpu_usage'] == 0
        assert (await client.command('bot-back'))[0] == 200
        assert (await again.command())['action'] == 'status'
    run(hub, scenario)


@pytest.mark.parametrize('action,status', [('start', 'active'), ('stop', 'idle'),
                                           ('restart', 'restarting'),
                                           ('reboot', 'rebooting')])
def test_status_actions_flip_the_status_and_later_commands_get_400(hub, action, status):
    """
    Start, stop, restart and reboot set the status after delivery, whatever the agent says.

    Mirrors RobotManager.send_command_to_robot (set_robot_status after sending) and the
    `robot.get('status') != 'online'` check of routers/robots.send_robot_command (400).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-flip')
        assert (await client.command('bot-flip', action))[0] == 200
        command = await agent.command()
        assert command['action'] == action and command['type'] == 'robot_command'
        await agent.send_raw(json.dumps({'type': 'command_response',
                                         'command_id': command['command_id'],
                                         'success': False, 'data': {'error': 'refused'}}))
        assert (await client.robot('bot-flip'))['status'] == status
        answer = await client.command('bot-flip')
        assert answer == (400, {'detail': 'Robot bot-flip is not online'})
        await agent.assert_silent()
        status_code, logs = await client.request('GET', '/api/robots/bot-flip/logs')
        assert f'Status changed to {status}' in logs['logs'][0]['message']
    run(hub, scenario)


def test_action_endpoints_send_their_actions(hub):
    """
    The four fixed endpoints send start_workspace, stop_workspace, restart/reboot_create3.

    Mirrors routers/robots.start_robot_workspace, stop_robot_workspace,
    restart_robot_create3 and reboot_robot_create3; none flips the status.
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-ends')
        for path, action in (('workspace/start', 'start_workspace'),
                             ('workspace/stop', 'stop_workspace'),
                             ('create3/restart', 'restart_create3'),
                             ('create3/reboot', 'reboot_create3')):
            status, answer = await client.request('POST', f'/api/robots/bot-ends/{path}')
            assert status == 200, answer
            command = await agent.command()
            assert (command['action'], command['parameters']) == (action, {})
            assert (await client.robot('bot-ends'))['status'] == 'online'
        assert (await client.request('POST', '/api/robots/nobody/workspace/start'))[0] == 404
    run(hub, scenario)


def test_command_to_an_unknown_robot_is_404_and_exhibition_is_shadowed(hub):
    """
    A command to a robot with no record answers 404, `exhibition` included.

    Mirrors routers/robots.send_robot_command (`Robot X not found`), which is declared before
    /exhibition/command and so shadows it.
    """
    async def scenario(client: Client) -> None:
        assert await client.command('nobody') == (404, {'detail': 'Robot nobody not found'})
        status, _ = await client.request('POST', '/api/robots/exhibition/command',
                                         {'action': 'start_all'})
        assert status == 404
        assert (await client.request('POST', '/api/robots/nobody/command', {}))[0] == 422
    run(hub, scenario)


@pytest.mark.parametrize('overrides', [
    {'hostname': DROPPED}, {'ip_address': DROPPED}, {'system_info': DROPPED},
    {'agent_id': DROPPED}, {'hostname': 7}, {'ip_address': None}, {'system_info': []},
    {'robot_info': None},
], ids=['no-hostname', 'no-ip', 'no-system-info', 'no-agent-id', 'int-hostname', 'null-ip',
        'list-system-info', 'null-robot-info'])
def test_registration_needs_hostname_ip_address_and_system_info(hub, overrides):
    """
    Registration without a required field, or with one of the wrong type, answers 422.

    Mirrors the pydantic 2 model routers/agents.AgentRegistration (agent_id, hostname,
    ip_address: str; system_info: dict; robot_info: dict = {}).
    """
    async def scenario(client: Client) -> None:
        status, answer = await client.register('bot-reg', **overrides)
        assert status == 422, answer
        assert (await client.request('GET', '/api/robots/bot-reg'))[0] == 404
    run(hub, scenario)


def test_the_date_header_is_uvicorns_refreshed_once_a_second(hub):
    """
    Every answer's Date is the one the server refreshed at its last tick, once a second.

    Mirrors uvicorn's Server.on_tick (formatdate every tenth 0.1 s tick): a Date lags the
    hub's clock by up to two seconds, which the bridge's clock estimate must allow for.
    """
    async def scenario(client: Client) -> None:
        lags = []
        for _ in range(12):
            async with client.session.get(client.hub.url + '/api') as answer:
                lags.append(time.time() - parsedate_to_datetime(answer.headers['Date'])
                            .timestamp())
            await asyncio.sleep(0.23)
        assert all(0.0 <= lag < 2.05 for lag in lags), lags
    run(hub, scenario)
    clock = [100.7]  # a hub started 0.7 s into a second: its ticks are 0.7 s into each second
    date = UvicornDate(lambda: clock[0])
    answer = web.Response()
    for now, shown in ((100.9, 100), (101.6, 100), (101.7, 101), (102.69, 101)):
        clock[0] = now
        asyncio.run(date.stamp(None, answer))
        assert parsedate_to_datetime(answer.headers['Date']).timestamp() == shown, now


def test_registration_resets_the_record_to_the_hub_defaults(hub):
    """
    Registering creates, and registering again resets, the record with the hub's defaults.

    Mirrors RobotManager.register_agent's robot_info and RobotRegistryService.register_robot.
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-def')
        await agent.send('heartbeat', NINE)
        await agent.send('robot_status', {'is_charging': True, 'location': 'Hall 2'})
        status, answer = await client.register('bot-def')
        assert (status, answer['status']) == (200, 'registered')
        record = await client.robot('bot-def')
        assert isinstance(record.pop('last_update'), str)
        assert isinstance(record.pop('registered_at'), str)
        assert record == {
            'id': 'bot-def', 'agent_id': 'bot-def', 'name': 'bot-def-pi',
            'hostname': 'bot-def-pi', 'status': 'online', 'current_action': 'idle',
            'battery_level': 100, 'cpu_usage': 0, 'memory_usage': 0, 'temperature': 25,
            'ip_address': '127.0.0.1', 'location': 'Museum', 'capabilities': ['ping'],
            'create3_connected': False, 'create3_status': 'unknown', 'oak_connected': False,
            'workspace_running': False, 'uptime': 0}
    run(hub, scenario)


# -- connections ---------------------------------------------------------------------------

def test_disconnect_marks_offline_and_a_heartbeat_after_reconnect_is_ignored(hub):
    """
    Any disconnect forgets the agent; until it registers again its heartbeats are ignored.

    Mirrors main.websocket_agent (`except WebSocketDisconnect: robot_manager.remove_agent`)
    and AgentRegistryService.update_agent_heartbeat (unknown agent: return False).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-off')
        await agent.close()
        assert (await client.robot('bot-off'))['status'] == 'offline'
        again = await client.connect('bot-off')
        assert hub.events('connect', agent_id='bot-off')[-1]['registered'] is False
        await again.send('heartbeat', {'cpu_percent': 77.0})
        assert hub.events('heartbeat_ignored', agent_id='bot-off')
        record = await client.robot('bot-off')
        assert record['status'] == 'offline' and record['cpu_usage'] == 0
        assert (await client.command('bot-off'))[0] == 400
        assert (await client.register('bot-off'))[0] == 200
        await again.send('heartbeat', {'cpu_percent': 77.0})
        assert (await client.robot('bot-off'))['cpu_usage'] == 77.0
    run(hub, scenario)


@pytest.mark.parametrize('closed', ['first', 'second'])
def test_two_connections_first_gets_commands_either_close_is_offline(hub, closed):
    """
    Two sockets of one agent id are both accepted; commands go to the first one.

    Mirrors ConnectionManager.connect (appends to active_connections['agent:<id>']),
    send_to_agent (the first socket that takes the frame) and remove_agent on either close.
    """
    async def scenario(client: Client) -> None:
        first = await client.agent('bot-two')
        second = await client.connect('bot-two')
        assert hub.events('connect', agent_id='bot-two')[-1]['open_sockets'] == 2
        assert (await client.command('bot-two', 'ping'))[0] == 200
        assert (await first.command())['action'] == 'ping'
        await second.assert_silent()
        await (first if closed == 'first' else second).close()
        assert (await client.robot('bot-two'))['status'] == 'offline'
        assert (await client.command('bot-two'))[0] == 400
    run(hub, scenario)


def test_no_command_is_resent_after_a_reconnect(hub):
    """
    A command is sent once, on the socket the hub holds then; a reconnect gets nothing.

    Mirrors CommandService.send_command_to_robot (one send_to_agent call) and
    ConnectionManager.handle_agent_message (command_response never updates pending_commands).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-once')
        assert (await client.command('bot-once', 'slow'))[0] == 200
        assert (await agent.command())['action'] == 'slow'  # never answered
        await agent.close()
        again = await client.agent('bot-once')
        await again.assert_silent()
        await asyncio.sleep(QUIET)
        await again.assert_silent()
        assert len(hub.events('command_sent', agent_id='bot-once')) == 1
    run(hub, scenario)


def test_frame_over_16_mib_is_refused_with_1009(hub):
    """
    A frame over 16 MiB closes the socket with 1009, a disconnect like any other.

    Mirrors uvicorn's ws_max_size (16 MiB) and main.websocket_agent's WebSocketDisconnect.
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-big')
        frame = json.dumps({'type': 'log_entry', 'data': {'message': 'x' * (16 * 1024 * 1024)}})
        try:
            await agent.ws.send_str(frame)
            msg = await agent.ws.receive(timeout=10)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        except ConnectionError:
            pass  # the hub may close before the whole frame is written
        disconnect = await until(lambda: hub.events('disconnect', agent_id='bot-big'),
                                 'the disconnect', timeout=10)
        assert disconnect[0]['close_code'] == 1009
        assert not zombies(hub, 'bot-big')
        assert (await client.robot('bot-big'))['status'] == 'offline'
    run(hub, scenario)


def test_hub_pings_every_ping_interval():
    """
    The hub pings each agent socket every ping_interval.

    Mirrors uvicorn's ws_ping_interval (20 s on the real hub), here 0.3 s.
    """
    harness = HubHarness(ping_interval=0.3)
    harness.start()
    try:
        async def scenario(client: Client) -> None:
            assert (await client.register('bot-ping'))[0] == 200
            ws = await client.session.ws_connect(f'{harness.url}/ws/agent/bot-ping',
                                                 autoping=False)
            pings = []
            while len(pings) < 3:
                msg = await ws.receive(timeout=2)
                assert msg.type == aiohttp.WSMsgType.PING, msg
                pings.append(time.monotonic())
                await ws.pong(msg.data)
            gaps = [b - a for a, b in zip(pings, pings[1:])]
            assert all(0.15 < gap < 1.0 for gap in gaps), gaps
            await ws.close()
        run(harness, scenario)
    finally:
        harness.close()


# -- logs and the robot API ----------------------------------------------------------------

def test_log_entry_is_stored_with_defaults_and_filtered_upper_case(hub):
    """
    A log_entry is stored with the hub's defaults; the level filter compares upper case.

    Mirrors LoggingService.add_robot_log (level "INFO", source "system" by default) and
    get_robot_logs (`log["level"] == level.upper()`: a lower-case "info" never matches).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-log')
        for data in ({'level': 'WARNING', 'message': 'low battery', 'source': 'rosout',
                      'timestamp': '2026-11-28T03:31:57Z'},
                     {'level': 'info', 'message': 'lower case',
                      'timestamp': '2026-11-28T03:31:56Z'},
                     {'message': 'no level', 'timestamp': '2026-11-28T03:31:55Z',
                      'logger': 'dropped'}):
            await agent.send('log_entry', data)
        status, answer = await client.request('GET', '/api/robots/bot-log/logs')
        assert status == 200 and answer['total'] == 3
        assert [log['message'] for log in answer['logs']] == ['low battery', 'lower case',
                                                              'no level']
        assert answer['logs'][2] == {'timestamp': '2026-11-28T03:31:55Z', 'level': 'INFO',
                                     'message': 'no level', 'source': 'system',
                                     'robot_id': 'bot-log'}
        _, warning = await client.request('GET', '/api/robots/bot-log/logs?level=warning')
        assert [log['message'] for log in warning['logs']] == ['low battery']
        _, info = await client.request('GET', '/api/robots/bot-log/logs?level=info')
        assert [log['message'] for log in info['logs']] == ['no level']
        _, one = await client.request('GET', '/api/robots/bot-log/logs?limit=1')
        assert [log['message'] for log in one['logs']] == ['low battery']
    run(hub, scenario)


def test_log_api_answers_500_when_timestamps_do_not_compare(hub):
    """
    One log_entry whose timestamp is not a string breaks the robot's log API (500).

    Mirrors LoggingService.get_robot_logs (`sorted(..., key=lambda x: x["timestamp"])`).
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-ts')
        await agent.send('log_entry', {'message': 'a', 'timestamp': '2026-11-28T03:31:55'})
        await agent.send('log_entry', {'message': 'b', 'timestamp': 1764300715.0})
        assert not zombies(hub, 'bot-ts')
        assert (await client.request('GET', '/api/robots/bot-ts/logs'))[0] == 500
    run(hub, scenario)


def test_nan_in_a_record_makes_the_robot_api_answer_500(hub):
    """
    A NaN merged into a record survives the reader but breaks GET /api/robots for everyone.

    Mirrors Starlette's JSONResponse.render (`json.dumps(..., allow_nan=False)`) under
    routers/robots.get_all_robots and get_robot.
    """
    assert realhub.api_error({'voltage': float('nan')}) is not None

    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-nan')
        await client.agent('bot-fine')
        assert (await client.request('GET', '/api/robots'))[1]['total'] == 2
        await agent.send_raw('{"type": "robot_status", "data": {"sources": {"voltage": NaN}}}')
        assert not zombies(hub, 'bot-nan')
        assert (await client.request('GET', '/api/robots'))[0] == 500
        assert (await client.request('GET', '/api/robots/bot-nan'))[0] == 500
        assert (await client.request('GET', '/api/robots/bot-fine'))[0] == 200
    run(hub, scenario)


def test_http_heartbeat_that_raises_answers_500(hub):
    """
    The HTTP heartbeat runs the same code: a null health value is a 500 there.

    Mirrors routers/agents.agent_heartbeat (`except Exception` -> 500 "Heartbeat processing
    failed: ...").
    """
    async def scenario(client: Client) -> None:
        assert (await client.register('bot-http'))[0] == 200
        status, answer = await client.request('POST', '/api/agents/bot-http/heartbeat',
                                              {'cpu_percent': 5.0, 'rtt_ms': 1.0})
        assert status == 200 and answer['message'] == 'Heartbeat received'
        record = await client.robot('bot-http')
        assert record['cpu_usage'] == 5.0 and 'rtt_ms' not in record
        status, answer = await client.request('POST', '/api/agents/bot-http/heartbeat',
                                              {'battery_level': None})
        assert status == 500 and answer['detail'].startswith('Heartbeat processing failed')
    run(hub, scenario)


def test_the_feed_broadcasts_what_the_reader_handled_in_its_order_and_nothing_else(hub):
    """
    /ws/dashboard carries exactly the real hub's broadcasts, in the reader's order.

    Mirrors ConnectionManager.handle_agent_message (robot_status: broadcast_robot_update with
    the data as sent and `timestamp` from it; log_entry: log_message, the entry with robot_id
    and source "robot"; command_response with agent_id, never deduplicated; heartbeat:
    nothing awaited) and RobotManager.update_robot_status (a create_task robot_update of the
    data, without timestamp, for each record update: the heartbeat's mapped keys, a known
    robot's robot_status). No snapshot on connect, nothing else.
    """
    async def scenario(client: Client) -> None:
        feed = await client.session.ws_connect(f'{hub.url}/ws/dashboard')
        await until(lambda: hub.hub.feeds, 'the feed client')
        agent = await client.agent('bot-dash')
        await agent.send('heartbeat', {'cpu_percent': 5.0, 'rtt_ms': 1.0})
        await agent.send('robot_status', {'bridge_seq': 7, 'is_docked': True})
        await agent.send('log_entry', {'level': 'ERROR', 'message': 'bumper', 'source': 'x'})
        answer = {'type': 'command_response', 'command_id': 'c-1', 'success': True,
                  'data': {'message': 'pong'}}
        await agent.send_raw(json.dumps(answer))
        await agent.send_raw(json.dumps(answer))
        seen = []
        while len([m for m in seen if m['type'] == 'command_response']) < 2:
            seen.append(await feed.receive_json(timeout=5))
        with pytest.raises(asyncio.TimeoutError):
            extra = await feed.receive_json(timeout=QUIET)
            pytest.fail(f'the feed sent {extra!r}')
        status = {'bridge_seq': 7, 'is_docked': True}

        def canonical(messages: list) -> list:
            return sorted(json.dumps(m, sort_keys=True) for m in messages)
        assert canonical(seen) == canonical([
            {'type': 'robot_update', 'robot_id': 'bot-dash', 'data': {'cpu_usage': 5.0}},
            {'type': 'robot_update', 'robot_id': 'bot-dash', 'data': status},
            {'type': 'robot_update', 'robot_id': 'bot-dash', 'data': status, 'timestamp': None},
            {'type': 'log_message', 'data': {'level': 'ERROR', 'message': 'bumper',
                                             'source': 'robot', 'robot_id': 'bot-dash'}},
            {**answer, 'agent_id': 'bot-dash'}, {**answer, 'agent_id': 'bot-dash'},
        ])
        awaited = [m for m in seen if m['type'] != 'robot_update' or 'timestamp' in m]
        assert [m['type'] for m in awaited] == ['robot_update', 'log_message',
                                                'command_response', 'command_response']
        await feed.close()
    run(hub, scenario)


def test_a_dead_readers_socket_reads_33_more_frames_and_pongs_then_reads_nothing(hub):
    """
    After the reader died, the socket reads (and pongs) 33 frames nobody handles, then stops.

    Mirrors main.websocket_agent's `except Exception` (log, forget the socket, return) under
    uvicorn 0.24 with websockets 12: the handler's return does not close the socket, and the
    library reads on into its queue of 32 (plus 1 in hand), answering pings, until it is full.
    """
    async def scenario(client: Client) -> None:
        assert (await client.register('bot-z33'))[0] == 200
        ws = await client.session.ws_connect(f'{hub.url}/ws/agent/bot-z33', autoping=False)
        agent = AgentSocket(client, 'bot-z33', ws)
        await until(lambda: hub.events('connect', agent_id='bot-z33'), 'the connect')
        await agent.send('heartbeat', {**NINE, 'battery_level': None}, expect='zombie')
        for number in range(33):
            await agent.send('robot_status', {'n': number}, expect='unread')
            if number < 32:  # the 33rd fills the queue: nothing is read after it
                await ws.ping(str(number).encode())
                pong = await ws.receive(timeout=5)
                assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, str(number).encode())
        await until(lambda: hub.events('stopped_reading', agent_id='bot-z33'), 'the stop')
        await ws.send_str(json.dumps({'type': 'robot_status', 'data': {}}))
        await ws.ping(b'late')
        with pytest.raises(asyncio.TimeoutError):
            msg = await ws.receive(timeout=QUIET)
            pytest.fail(f'the hub answered {msg!r}')
        assert len(hub.events('unread', agent_id='bot-z33')) == 33
        assert not hub.events('message', agent_id='bot-z33', type='robot_status')
    run(hub, scenario)


def test_unknown_message_type_is_ignored_and_the_link_stays(hub):
    """
    An unknown type is logged and ignored; the reader lives on.

    Mirrors ConnectionManager.handle_agent_message's final `else: logger.warning(...)`.
    """
    async def scenario(client: Client) -> None:
        agent = await client.agent('bot-unk')
        await agent.send('telemetry_v2', {'cpu_percent': None})
        assert not zombies(hub, 'bot-unk')
        assert (await client.command('bot-unk'))[0] == 200
        assert (await agent.command())['action'] == 'status'
    run(hub, scenario)
