"""
The bridge against the faithful local hub: the reader never dies, and the card fills.

Each scenario is one the real hub's reader once died in (a null in a health key): a host with
no battery and no temperature sensor, a bridge that connects before a source's first message,
a source that goes stale, a topic that never publishes. For five heartbeat cycles the robot's
record must keep moving, every command must be answered, and the card's keys must be right.
"""

import json
import time
from typing import Any, Dict
from urllib.request import Request, urlopen
import uuid

from harness import wait_for
import pytest

HEARTBEAT = 0.5
CYCLES = 5


def post_command(hub: Any, agent_id: str, action: str) -> int:
    """Send an operator command through the hub's REST API, as the card's buttons do."""
    body = json.dumps({'action': action, 'parameters': {}}).encode()
    request = Request(f'{hub.url}/api/robots/{agent_id}/command', data=body, method='POST',
                      headers={'Content-Type': 'application/json'})
    try:
        with urlopen(request, timeout=5) as reply:
            return reply.status
    except OSError as err:
        return getattr(err, 'code', 0)


def run_cycles(hub: Any, agent_id: str, publish=lambda cycle: None) -> Dict[str, Any]:
    """Send a command each heartbeat cycle; return the robot record after the last one."""
    seen_uptime = []
    for cycle in range(CYCLES):
        publish(cycle)
        beats = len(hub.messages(agent_id, 'heartbeat'))
        command_id = str(uuid.uuid4())
        hub.send_command(agent_id, {'command_id': command_id, 'action': 'ping'})
        wait_for(lambda: hub.answers(agent_id, command_id), 5, f'answer in cycle {cycle}',
                 lambda: hub.events()[-3:])
        wait_for(lambda: len(hub.messages(agent_id, 'heartbeat')) > beats, 5,
                 f'heartbeat of cycle {cycle}')
        assert not hub.events('zombie', agent_id=agent_id), hub.events('zombie')
        seen_uptime.append(hub.hub.robots[agent_id]['uptime'])
        time.sleep(HEARTBEAT)
    responses = [m['command_id'] for m in hub.messages(agent_id, 'command_response')]
    assert len(responses) == len(set(responses)) == CYCLES, responses  # each exactly once
    assert seen_uptime[-1] > seen_uptime[0], seen_uptime  # the record kept moving
    robot = hub.hub.robots[agent_id]
    assert robot['status'] == 'online', robot
    return robot


def battery_source(topic: str, stale_after: float = 10.0) -> Dict[str, Any]:
    return {'status_sources': ['battery'], 'battery.topic': topic,
            'battery.type': 'sensor_msgs/msg/BatteryState',
            'battery.presence': 'create3_connected', 'battery.stale_after': stale_after}


def params(agent_id: str, hub: Any, **extra: Any) -> Dict[str, Any]:
    return {'hub_url': hub.url, 'agent_id': agent_id, 'heartbeat_interval': HEARTBEAT,
            'monitor_interval': HEARTBEAT, 'location': 'Hall 2', **extra}


def test_host_without_battery_or_temperature_sensor(hub, start_bridge):
    start_bridge(params('bot-bare', hub))
    hub.wait_connected('bot-bare')
    robot = run_cycles(hub, 'bot-bare')
    assert robot['location'] == 'Hall 2' and robot['uptime_seconds'] >= 1
    assert robot['cpu_usage'] >= 0 and robot['memory_usage'] > 0


def test_bridge_connected_before_the_first_message(hub, start_bridge, ros):
    from sensor_msgs.msg import BatteryState
    topic = f'/card_battery_{uuid.uuid4().hex[:8]}'
    start_bridge(params('bot-early', hub, **battery_source(topic)))
    hub.wait_connected('bot-early')
    wait_for(lambda: hub.messages('bot-early', 'robot_status'), 5, 'a robot_status')
    publisher = ros.node.create_publisher(BatteryState, topic, 10)

    def publish(cycle: int) -> None:
        if cycle >= 2:  # the first two cycles run before the source's first message
            publisher.publish(BatteryState(percentage=0.61))
    robot = run_cycles(hub, 'bot-early', publish)
    wait_for(lambda: hub.hub.robots['bot-early'].get('battery') == 61.0, 5, 'battery 61 %',
             lambda: hub.hub.robots['bot-early'])
    assert hub.hub.robots['bot-early']['battery_level'] == 61.0
    assert robot['create3_connected'] is True


def test_a_source_that_goes_stale(hub, start_bridge, ros):
    from sensor_msgs.msg import BatteryState
    topic = f'/card_battery_{uuid.uuid4().hex[:8]}'
    start_bridge(params('bot-stale', hub, **battery_source(topic, stale_after=1.0)))
    hub.wait_connected('bot-stale')
    publisher = ros.node.create_publisher(BatteryState, topic, 10)

    def publish(cycle: int) -> None:
        if cycle == 0:
            wait_for(lambda: (publisher.publish(BatteryState(percentage=0.3)),
                              hub.hub.robots['bot-stale'].get('create3_connected'))[1], 10,
                     'the source fresh')
    robot = run_cycles(hub, 'bot-stale', publish)  # stale from the third cycle on
    status = hub.messages('bot-stale', 'robot_status')[-1]['data']
    assert status['sources']['battery']['stale'] and 'battery_level' not in status
    assert robot['create3_connected'] is False


def test_a_topic_that_never_publishes(hub, start_bridge):
    start_bridge(params('bot-silent', hub, **battery_source('/card_never_published')))
    hub.wait_connected('bot-silent')
    robot = run_cycles(hub, 'bot-silent')
    assert robot['create3_connected'] is False
    status = hub.messages('bot-silent', 'robot_status')[-1]['data']
    assert status['sources']['battery']['stale'] and 'battery_level' not in status


@pytest.mark.parametrize('action', ['stop', 'start', 'restart', 'reboot'])
def test_a_status_flip_by_the_hub_is_undone_at_once(hub, start_bridge, action):
    # robot_status comes every 30 s here: only the one sent right after the answer can help.
    start_bridge(params('bot-flip', hub, monitor_interval=30.0))
    hub.wait_connected('bot-flip')
    wait_for(lambda: hub.messages('bot-flip', 'robot_status'), 5, 'the first robot_status')
    assert post_command(hub, 'bot-flip', action) == 200
    wait_for(lambda: hub.messages('bot-flip', 'command_response'), 5, 'the answer')
    wait_for(lambda: hub.hub.robots['bot-flip']['status'] == 'online', 3,
             f'online again after {action}', lambda: hub.hub.robots['bot-flip']['status'])
    assert post_command(hub, 'bot-flip', 'ping') == 200  # no 400 "not online"
