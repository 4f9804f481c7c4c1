"""The hub side assembled (HubAgent) in this process, against the local hub, with a plain robot."""

import asyncio
from datetime import datetime, timedelta, timezone
import logging
import threading
import time
from typing import Any, Dict, List, Tuple
import uuid

from artbot_bridge.core.agent import HubAgent
from artbot_bridge.core.deadline import Deadline
from artbot_bridge.core.settings import build_settings
from harness import FAST, free_port, HubHarness, wait_for
import pytest


class Robot:
    """A robot port in plain Python: records what the agent tells it, on which thread."""

    def __init__(self) -> None:
        self.links: List[bool] = []
        self.frames: List[Tuple[str, str]] = []
        self.received_items: List[Any] = []
        self.drove: List[str] = []
        self.stopped = 0
        self.threads: set = set()

    def _note(self) -> None:
        self.threads.add(threading.current_thread().name)

    def heartbeat(self) -> Dict[str, Any]:
        return {'battery_level': 77.0, 'workspace_running': False}

    def robot_status(self) -> Dict[str, Any]:
        return {'status': 'online', 'battery': 77.0}

    def status(self) -> Dict[str, Any]:
        return {'robot_status': {'battery': 77.0}}

    def registration(self) -> Dict[str, Any]:
        return {'hostname': 'test', 'system_info': {'python': '3'},
                'robot_info': {'status_sources': ['battery']}}

    def handlers(self):
        async def drive(command):
            self.drove.append(command.command_id)
            return True, {'message': 'drove'}

        async def large(command):  # a service that takes a moment and answers 100 KB
            await asyncio.sleep(0.01)
            return True, {'message': 'x' * 100_000}
        return {'drive': drive, 'large': large}

    def deadlines(self) -> Dict[str, Deadline]:
        return {'drive': Deadline(1.0, unsure_runs=False)}

    def link(self, connected: bool) -> None:
        self._note()
        self.links.append(connected)

    def stopping(self) -> None:
        self._note()
        self.stopped += 1

    def received(self, item: Any) -> None:
        self._note()
        self.received_items.append(item)

    def sent(self, kind: str, frame: str) -> None:
        self.frames.append((kind, frame))

    def counters(self) -> Dict[str, Any]:
        return {'lease_stops': 0}


def stamp(seconds_ago: float = 0.0) -> str:
    moment = datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
    return moment.replace(tzinfo=None).isoformat()


@pytest.fixture
def start_agent():
    """Return a factory of started agents (fast timings merged in); all are stopped after."""
    started: List[HubAgent] = []

    def start(params: Dict[str, Any]) -> Tuple[HubAgent, Robot]:
        robot = Robot()
        settings = build_settings({**FAST, **params}, [], {})
        agent = HubAgent(settings, robot, logging.getLogger('test_agent'))
        agent.start()
        started.append(agent)
        return agent, robot
    yield start
    for agent in started:
        agent.stop()


@pytest.fixture
def agent(hub, start_agent):
    return start_agent({'hub_url': hub.url, 'agent_id': 'bot-agent'})


def send(hub, action, seconds_ago=0.0):
    command_id = str(uuid.uuid4())
    hub.send_command('bot-agent', {'command_id': command_id, 'robot_id': 'bot-agent',
                                   'type': 'robot_command', 'action': action, 'parameters': {},
                                   'timestamp': stamp(seconds_ago), 'status': 'pending'})
    return command_id


def answer(hub, command_id):
    def found():
        return [m for m in hub.messages('bot-agent', 'command_response')
                if m['command_id'] == command_id]
    return wait_for(found, 10, f'the answer to {command_id}')


def test_the_assembled_hub_side_registers_runs_commands_and_tells_the_robot(hub, agent):
    agent, robot = agent
    hub.wait_connected('bot-agent')
    registered = hub.events('register', agent_id='bot-agent')[0]['body']
    assert registered['robot_info'] == {
        'capabilities': ['drive', 'get_logs', 'large', 'ping', 'reconnect', 'status'],
        'status_sources': ['battery']}
    wait_for(lambda: robot.links[-1:] == [True], 5, 'the robot told the link is up')
    wait_for(lambda: hub.messages('bot-agent', 'heartbeat'), 5, 'a heartbeat')
    assert hub.messages('bot-agent', 'heartbeat')[0]['data']['battery_level'] == 77.0
    wait_for(lambda: {kind for kind, _ in robot.frames} >= {'heartbeat', 'robot_status'}, 5,
             'the frames echoed to the robot')
    drive = send(hub, 'drive')
    assert answer(hub, drive)[0]['success'] is True and robot.drove == [drive]
    late = answer(hub, send(hub, 'drive', seconds_ago=30.0))
    assert late[0]['success'] is False and late[0]['data']['reason'] == 'expired'
    assert robot.drove == [drive], 'the late command never ran'
    status = answer(hub, send(hub, 'status'))[0]['data']['result']
    assert status['robot_status'] == {'battery': 77.0} and status['commands_expired'] == 1
    assert status['lease_stops'] == 0 and abs(status['clock_offset_s']) < 2.0
    assert agent.snapshot()['link']['state'] == 'connected'
    wait_for(lambda: len(robot.received_items) == 3, 5, 'the commands echoed to the robot')
    responses = [frame for kind, frame in robot.frames if kind == 'command_response']
    assert len(responses) == 3
    assert robot.threads == {'artbot-hub-link'}, 'the robot is called on the loop thread only'


def test_stop_ends_the_robots_leases_and_closes_cleanly(hub, agent):
    agent, robot = agent
    hub.wait_connected('bot-agent')
    agent.log('warn', 'a line for the hub', source='test')
    wait_for(lambda: hub.messages('bot-agent', 'log_entry'), 5, 'the log line')
    agent.stop()
    assert robot.stopped == 1 and robot.links[-1] is False
    wait_for(lambda: hub.events('disconnect', agent_id='bot-agent'), 5, 'the close')
    assert hub.events('disconnect', agent_id='bot-agent')[0]['close_code'] == 1001
    started = time.monotonic()
    agent.stop()  # twice is harmless
    assert time.monotonic() - started < 1.0


def test_registration_precedes_every_connect_including_after_hub_restart(hub, start_agent):
    agent, _ = start_agent({'hub_url': hub.url, 'agent_id': 'bot-reg'})
    hub.wait_connected('bot-reg')
    connects = hub.restart_times('bot-reg', 2)
    assert all(event['registered'] for event in connects), connects
    # Between two connects there is a fresh registration (the hub forgets on disconnect).
    ordered = [e['kind'] for e in hub.events() if e['kind'] in ('register', 'connect')]
    assert ordered == ['register', 'connect'] * 3, ordered
    wait_for(lambda: agent.snapshot()['link']['state'] == 'connected', 5, 'connected')


def test_hub_down_at_start_connects_within_one_backoff_step(start_agent):
    port = free_port()
    agent, robot = start_agent({'hub_url': f'http://127.0.0.1:{port}', 'agent_id': 'bot-late'})
    wait_for(lambda: agent.snapshot()['link']['attempts'] >= 2, 15, 'a failed attempt',
             agent.snapshot)
    time.sleep(2.0)  # let the backoff grow to its cap (1 s here)
    late = HubHarness(port=port)
    try:
        late.start()
        started = time.monotonic()
        connect = late.wait_connected('bot-late', timeout=10)
        assert connect['t'] - started <= FAST['reconnect_max_delay'] + 1.0
        assert late.events('register', agent_id='bot-late')
    finally:
        late.close()
    assert robot.links[0] is False and True in robot.links


def test_hub_restarted_five_times_never_two_sockets(hub, start_agent):
    agent, _ = start_agent({'hub_url': hub.url, 'agent_id': 'bot-5'})
    hub.wait_connected('bot-5')
    connects = hub.restart_times('bot-5', 5)
    assert len(connects) == 6
    assert max(event['open_sockets'] for event in connects) == 1
    wait_for(lambda: agent.snapshot()['link']['reconnects'] == 5, 5, 'five reconnects counted',
             agent.snapshot)


def test_server_closing_the_socket_makes_the_agent_reconnect(hub, start_agent):
    agent, _ = start_agent({'hub_url': hub.url, 'agent_id': 'bot-kick'})
    hub.wait_connected('bot-kick')
    for count in (2, 3):
        hub.kick('bot-kick', code=1000)
        hub.wait_connected('bot-kick', count=count)
    assert len(hub.events('register', agent_id='bot-kick')) == 3
    wait_for(lambda: agent.snapshot()['link']['connects'] == 3, 5, 'three connects counted',
             agent.snapshot)


@pytest.mark.parametrize('proof', ['pong', 'echo'])
def test_a_burst_of_large_answers_never_stalls_the_link(hub, start_agent, proof):
    """Unproven answers must not stop the reading that brings their proof (a pong)."""
    agent, _ = start_agent({'hub_url': hub.url, 'agent_id': f'bot-{proof}',
                            'delivery_proof': proof, 'ping_interval': 20.0, 'ping_timeout': 20.0,
                            'max_commands_per_minute': 100_000, 'max_concurrent_commands': 100})
    hub.wait_connected(f'bot-{proof}')
    sent = [str(uuid.uuid4()) for _ in range(300)]
    for command_id in sent:
        hub.send_command(f'bot-{proof}', {'command_id': command_id, 'action': 'large',
                                          'timestamp': stamp()})
    wait_for(lambda: set(sent) <= set(hub.answer_counts(f'bot-{proof}')), 20,
             'every answer, with no stall', lambda: len(hub.answer_counts(f'bot-{proof}')))
    assert agent.snapshot()['link']['connects'] == 1, 'no link dropped on the way'
