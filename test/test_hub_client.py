"""HubClient against the local hub in one event loop, without ROS."""

import asyncio
import json
import logging
import time

from artbot_bridge.core.hub_client import HubClient
from artbot_bridge.core.protocol import ProtocolError
from artbot_bridge.core.reporter import Telemetry
from artbot_bridge.core.settings import build_settings
from artbot_bridge.devhub.server import DevHub


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
                       lambda: {'agent_id': 'unit', 'hostname': 'unit-host', 'system_info': {}},
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
        # Stopped in a handshake, run() ends by its cancellation (the node expects that).
        await asyncio.wait([task], timeout=5)
        assert task.done()
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


class HostileRegistrar:
    """An HTTP server on loopback that answers registrations badly, and records requests."""

    def __init__(self, answer):
        self.answer = answer  # async (writer) -> None, after the request was read
        self.requests = []
        self.server = None

    async def start(self):
        self.server = await asyncio.start_server(self._handle, '127.0.0.1', 0)
        return self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader, writer):
        head = await reader.readuntil(b'\r\n\r\n')
        self.requests.append(head.decode('latin-1'))
        length = int(next((line.split(':')[1] for line in head.decode().split('\r\n')
                           if line.lower().startswith('content-length')), 0))
        await reader.readexactly(length)
        try:
            await self.answer(writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        writer.close()

    async def stop(self):
        self.server.close()


def hostile_client(port, **overrides):
    settings = build_settings({
        'env_file': '', 'hub_url': f'http://127.0.0.1:{port}', 'agent_id': 'unit',
        'reconnect_initial_delay': 0.1, 'reconnect_max_delay': 0.2, **overrides}, [],
        {'HUB_TOKEN': 'not-for-strangers'})
    return HubClient(settings, StaticTelemetry(),
                     lambda: {'agent_id': 'unit', 'hostname': 'h', 'system_info': {}},
                     [].append, [].append, logging.getLogger('test'))


def run_against(answer, check, **overrides):
    async def scenario():
        registrar = HostileRegistrar(answer)
        port = await registrar.start()
        client = hostile_client(port, **overrides)
        task = asyncio.ensure_future(client.run())
        try:
            await until(lambda: client.stats.attempts >= 3, timeout=15)
            check(client, registrar)
        finally:
            await client.stop()  # cancels a registration still running
            await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
            await registrar.stop()
    asyncio.run(scenario())


def test_a_trickling_registration_answer_is_cut_at_open_timeout():
    async def trickle(writer):
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n')
        for _ in range(100):  # one byte every 0.3 s: each read alone is within any timeout
            writer.write(b' ')
            await writer.drain()
            await asyncio.sleep(0.3)

    started = time.monotonic()

    def check(client, registrar):
        # Three attempts of at most open_timeout (1 s) each, plus the retry delays.
        assert time.monotonic() - started < 6.0
        assert 'longer than open_timeout (1 s)' in client.stats.last_error, client.stats
    run_against(trickle, check, open_timeout=1.0)


def test_a_redirect_is_never_followed_with_the_token():
    async def elsewhere(writer):
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}')

    async def scenario():
        other = HostileRegistrar(elsewhere)
        other_port = await other.start()

        async def redirect(writer):
            writer.write(f'HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{other_port}'
                         f'/api/agents/register\r\nContent-Length: 0\r\n\r\n'.encode())

        def check(client, registrar):
            assert 'Authorization: Bearer not-for-strangers' in registrar.requests[0]
            assert other.requests == []  # neither the token nor the body went elsewhere
            assert 'redirect' in client.stats.last_error and '302' in client.stats.last_error
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: run_against(redirect, check))
        finally:
            await other.stop()
    asyncio.run(scenario())


def test_a_huge_registration_answer_is_not_read():
    async def huge(writer):
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n')
        chunk = b'x' * 65536
        for _ in range(1500):
            writer.write(chunk)
            await writer.drain()

    def check(client, registrar):
        assert 'over 65536 bytes' in client.stats.last_error, client.stats
    run_against(huge, check)
