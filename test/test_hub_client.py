"""HubClient against the local hub in one event loop, without ROS."""

import asyncio
import json
import logging
import time

from artbot_bridge.devhub.server import DevHub
from artbot_bridge.hub_client import HubClient, Telemetry
from artbot_bridge.protocol import ProtocolError
from artbot_bridge.settings import build_settings


class StaticTelemetry(Telemetry):
    def heartbeat(self):
        return {'cpu_percent': 1.0}

    def robot_status(self):
        return {'status_detail': 'ok'}


def make_client(port, commands, links, **overrides):
    settings = build_settings({
        'env_file': '', 'hub_url': f'http://127.0.0.1:{port}', 'agent_id': 'unit',
        'reconnect_initial_delay': 0.3, 'reconnect_max_delay': 0.6,
        'heartbeat_interval': 5.0, 'monitor_interval': 5.0, **overrides}, [], {})
    client = HubClient(settings, StaticTelemetry(),
                       lambda: {'agent_id': 'unit', 'system_info': {}},
                       commands.append, links.append, logging.getLogger('test'))
    return client


async def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'condition not met in time'
        await asyncio.sleep(0.01)


def test_handshake_closed_at_once_still_waits_the_minimum_delay():
    async def scenario():
        hub = DevHub(port=0)
        hub.close_on_connect = 1000
        await hub.start()
        client = make_client(hub.port, [], [])
        task = asyncio.ensure_future(client.run())
        await until(lambda: len(hub.events) and
                    sum(e['kind'] == 'connect' for e in hub.events) >= 4)
        await client.stop()
        await asyncio.wait_for(task, 5)
        await hub.stop()
        connects = [e['t'] for e in hub.events if e['kind'] == 'connect']
        gaps = [b - a for a, b in zip(connects, connects[1:])]
        assert min(gaps) >= 0.3, gaps  # never a tight loop, even when each handshake succeeds
        assert max(e.get('open_sockets', 0) for e in hub.events) == 1
        kinds = [e['kind'] for e in hub.events if e['kind'] in ('register', 'connect')]
        assert kinds[:6] == ['register', 'connect'] * 3
    asyncio.run(scenario())


def test_bad_frames_are_handed_on_or_counted_and_the_link_stays_up():
    async def scenario():
        hub = DevHub(port=0)
        await hub.start()
        commands, links = [], []
        client = make_client(hub.port, commands, links)
        task = asyncio.ensure_future(client.run())
        await until(lambda: links and links[-1] is True)
        ws = hub.sockets['unit'][0]
        await ws.send_str('{not json')
        await ws.send_bytes(b'\x00')
        await ws.send_str(json.dumps({'command_id': 'c-bad', 'action': 7}))
        await ws.send_str(json.dumps({'command_id': 'c-ok', 'action': 'ping'}))
        await until(lambda: len(commands) == 2)
        assert isinstance(commands[0], ProtocolError) and commands[0].command_id == 'c-bad'
        assert "'action'" in commands[0].reason
        assert commands[1].command_id == 'c-ok'
        assert client.stats.bad_frames == 3 and client.stats.connects == 1
        assert not any(e['kind'] == 'zombie' for e in hub.events)
        await client.stop()
        await asyncio.wait_for(task, 5)
        disconnect = [e for e in hub.events if e['kind'] == 'disconnect']
        assert disconnect[0]['close_code'] == 1001
        await hub.stop()
    asyncio.run(scenario())
