#!/usr/bin/env python3
"""
Check a running bridge against the real Artbot Control Hub backend, through the hub's own API.

scripts/realhub.sh starts the hub (under a supervisor that starts uvicorn again on the same port
whenever it exits), the demo robot and this checker; once the checker is ready it starts the
bridge. The checks, in order, each through the hub's REST API and its /ws/dashboard socket:

1. the robot is online within 2 s of the bridge's start: its record says online and the
   hub lists its socket (which must still be listed two heartbeats later);
2. cpu_usage, memory_usage, battery_level and uptime_seconds move; the card has all its keys;
3. every action of the card's buttons gets exactly one command_response on /ws/dashboard, and
   after the status-flipping actions (start, stop) the robot is online again at once;
4. the hub is restarted three times (killed, started again by the supervisor); after each
   restart the robot is online again, in the same sense, and afterwards a command still gets
   its response;
5. lines published on the bridge's ~/events topic are stored as the robot's logs, with upper
   case levels;
6. the hub's reader is killed mid-answers, as a hub bug kills it: the bridge talks to the hub
   through a proxy of this checker's (`devhub.killer`), which holds back what the bridge
   sends while commands reach it, then sends one frame that raises in the hub's reader
   (a null battery_level) and what it held. Every command the bridge got must still have
   its command_response broadcast by the hub (the echo proof), and the robot be online
   again;
7. a drive command (config/bridge.yaml: max_age 1 s, lease 0.5 s) sent while the bridge is
   stopped (SIGSTOP) for `--stall` seconds, as a stalled link or CPU holds it, is answered
   expired with about that age and never run; a fresh one runs; the `status` answer gives the
   robot-hub clock offset the bridge estimated from the real hub's Date headers and stamps.

Throughout, a hub log line "Error handling agent" (the hub's reader died on a frame: a zombie
link, shown online with frozen numbers) fails the run and is printed, but for the one that
check 6 causes. Every wait is bounded.
Prints a table of what was measured; exits 1 on any failure.
"""

import argparse
import asyncio
from datetime import datetime, timezone
import json
import os
from pathlib import Path
import signal
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple
import uuid

import aiohttp
from artbot_bridge.devhub.killer import KillerProxy

ZOMBIE_MARK = 'Error handling agent'
MOVING = ('cpu_usage', 'memory_usage', 'battery_level', 'uptime_seconds')
# Of those, the ones an idle host may hold still, and the hub's value at registration.
STEADY = ('memory_usage',)
REGISTRATION_DEFAULTS = {'memory_usage': 0}
# The keys the operator's robot card reads, and the JSON type each must have.
CARD = {
    'battery_level': 'number', 'battery': 'number', 'cpu_usage': 'number',
    'temperature': 'number', 'memory_usage': 'number', 'oak_camera_connected': 'boolean',
    'create3_connected': 'boolean', 'workspace_status': 'string', 'uptime_seconds': 'number',
    'location': 'string', 'status': 'string',
}
# (label, path under /api/robots/{id}, JSON body, the action the hub sends)
BUTTONS = [
    ('workspace/start', '/workspace/start', None, 'start_workspace'),
    ('workspace/stop', '/workspace/stop', None, 'stop_workspace'),
    ('create3/restart', '/create3/restart', None, 'restart_create3'),
    ('create3/reboot', '/create3/reboot', None, 'reboot_create3'),
    ('command status', '/command', {'action': 'status', 'parameters': {}}, 'status'),
    ('command get_logs', '/command', {'action': 'get_logs', 'parameters': {}}, 'get_logs'),
    ('command stop', '/command', {'action': 'stop', 'parameters': {}}, 'stop'),
    ('command start', '/command', {'action': 'start', 'parameters': {}}, 'start'),
]
FLIPPING = ('start', 'stop')  # the hub sets the robot's status to active / idle on these
RESTART_SIGNALS = (signal.SIGTERM, signal.SIGKILL, signal.SIGTERM)
HEARTBEAT_SECONDS = 1.0  # the bridge's heartbeat_interval and monitor_interval in this run


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Return the command line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    arg = parser.add_argument
    arg('--hub-url', required=True, help='http://127.0.0.1:PORT')
    arg('--agent-id', default='realhub-bot')
    arg('--hub-log', required=True, type=Path, help="the hub's log (scanned for zombies)")
    arg('--hub-pidfile', required=True, type=Path, help="holds the running uvicorn's pid")
    arg('--ready-file', required=True, type=Path, help='created once the checker is ready')
    arg('--bridge-started-file', required=True, type=Path,
        help="holds the bridge's start time (Unix seconds), written by the caller")
    arg('--report', type=Path, help='also write the table here')
    arg('--proxy-port-file', type=Path,
        help="check 6: write the port of this checker's proxy to the hub here; the bridge "
             'must use it as its hub_url (no file: no check 6)')
    arg('--kill-commands', type=int, default=10, help='check 6: commands held behind the kill')
    arg('--kill-within', type=float, default=60.0,
        help='check 6: seconds for every answer to reach the hub after the kill')
    arg('--bridge-pidfile', type=Path,
        help="check 7: holds the bridge's pid, to stop it for a while (no file: no check 7)")
    arg('--stall', type=float, default=3.0, help='check 7: seconds the bridge is stopped')
    arg('--online-within', type=float, default=2.0, help='check 1 bound, seconds')
    arg('--samples', type=int, default=16, help='check 2: robot records sampled, 1 s apart')
    arg('--settle', type=float, default=1.5,
        help='check 3: seconds to keep collecting responses after the first one')
    arg('--response-timeout', type=float, default=6.0,
        help='check 3: seconds to wait for the first response')
    arg('--flip-online-within', type=float, default=2.0,
        help='check 3: seconds from the response of start/stop to status online')
    arg('--restarts', type=int, default=len(RESTART_SIGNALS))
    arg('--restart-online-within', type=float, default=15.0,
        help='check 4: seconds from the hub being up again to the robot online')
    # Longer than the bridge's reconnect_reset_after (10 s): each restart then finds the
    # bridge's retry delay reset, and the restarts' times compare.
    arg('--restart-gap', type=float, default=11.0,
        help='check 4: seconds the link lives after a restart before the next')
    return parser.parse_args(argv)


def now() -> float:
    """Return the monotonic clock."""
    return time.monotonic()


def short(value: Any, limit: int = 70) -> str:
    """Return a one-line, bounded rendering of a value."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = ' '.join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + '...'


def json_type(value: Any) -> str:
    """Return the JSON type name of a decoded value."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, (int, float)):
        return 'number'
    if isinstance(value, str):
        return 'string'
    return 'array' if isinstance(value, list) else 'object'


class Report:
    """The table of checks: name, PASS or FAIL, what was measured, details."""

    def __init__(self) -> None:
        self.rows: List[Tuple[str, bool, str, str]] = []

    def add(self, check: str, ok: bool, measured: str = '', detail: str = '') -> bool:
        """Add one row, print it at once, and return `ok`."""
        self.rows.append((check, ok, measured, detail))
        print(f"   {'PASS' if ok else 'FAIL'}  {check}: {measured}  {detail}".rstrip(),
              flush=True)
        return ok

    @property
    def failed(self) -> int:
        """Return the number of failed rows."""
        return sum(1 for row in self.rows if not row[1])

    def table(self) -> str:
        """Return the rows as an aligned text table."""
        head = ('check', 'result', 'measured', 'detail')
        rows = [head] + [(c, 'PASS' if ok else 'FAIL', m, d) for c, ok, m, d in self.rows]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines = []
        for n, row in enumerate(rows):
            cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3]]
            lines.append(' | '.join(cells).rstrip())
            if n == 0:
                lines.append('-+-'.join('-' * w for w in widths + [6]))
        total = len(self.rows)
        lines.append(f'{total - self.failed} of {total} passed'
                     + (f', {self.failed} FAILED' if self.failed else ''))
        return '\n'.join(lines)


class HubLog:
    """The hub's log file, scanned for the line its agent reader writes when it dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reported = 0

    def zombies(self) -> List[str]:
        """Return every "Error handling agent" line so far."""
        try:
            text = self.path.read_text(errors='replace')
        except OSError:
            return []
        return [line for line in text.splitlines() if ZOMBIE_MARK in line]

    def watch(self, where: str) -> List[str]:
        """Print new zombie lines loudly; return them."""
        lines = self.zombies()
        new = lines[self.reported:]
        self.reported = len(lines)
        for line in new[:5]:
            print(f"!! ZOMBIE ({where}): the hub's agent reader died: {line}", flush=True)
        if len(new) > 5:
            print(f'!! ... and {len(new) - 5} more such lines', flush=True)
        return new


class Hub:
    """The hub's REST API as an operator uses it."""

    def __init__(self, session: aiohttp.ClientSession, url: str, agent: str) -> None:
        self.session = session
        self.url = url.rstrip('/')
        self.agent = agent
        self.token = ''

    async def request(self, method: str, path: str, body: Any = None,
                      timeout: float = 5.0) -> Tuple[Optional[int], Any]:
        """Return (HTTP status or None on a transport error, decoded body or error text)."""
        headers = {'Authorization': f'Bearer {self.token}'} if self.token else {}
        try:
            async with self.session.request(
                    method, self.url + path, json=body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout)) as reply:
                text = await reply.text()
                try:
                    return reply.status, json.loads(text)
                except ValueError:
                    return reply.status, text
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
            return None, f'{type(err).__name__}: {err}'

    async def login(self, password: str, within: float = 15.0) -> str:
        """Log in as the operator; return '' or the reason it failed."""
        deadline = now() + within
        reason = 'not tried'
        while now() < deadline:
            code, body = await self.request('POST', '/api/auth/validate',
                                            {'password': password})
            if code == 200 and isinstance(body, dict) and body.get('access_token'):
                self.token = body['access_token']
                return ''
            reason = f'{code}: {short(body)}'
            if code is not None:
                break
            await asyncio.sleep(0.2)
        return reason

    async def up(self) -> bool:
        """Return True if the hub answers its health check."""
        code, _ = await self.request('GET', '/', timeout=1.0)
        return code == 200

    async def robot(self) -> Tuple[Optional[int], Any]:
        """Return (status, record) of the robot."""
        return await self.request('GET', f'/api/robots/{self.agent}')

    async def status(self) -> Optional[str]:
        """Return the robot's status, or None if the hub has no record of it."""
        code, record = await self.robot()
        return record.get('status') if code == 200 and isinstance(record, dict) else None

    async def wait_online(self, within: float, poll: float = 0.02) -> Tuple[Optional[float],
                                                                            List[str]]:
        """Poll until the robot is online; return (seconds taken or None, statuses seen)."""
        start = now()
        seen: List[str] = []
        for _ in range(int(within / poll) + 1):
            state = await self.status()
            label = state if state is not None else 'absent'
            if not seen or seen[-1] != label:
                seen.append(label)
            if state == 'online':
                return now() - start, seen
            if now() - start > within:
                break
            await asyncio.sleep(poll)
        return None, seen


class Dashboard:
    """The hub's /ws/dashboard socket; every JSON message is kept with its arrival time."""

    def __init__(self, session: aiohttp.ClientSession, hub_url: str) -> None:
        self.session = session
        self.url = hub_url.rstrip('/').replace('http', 'ws', 1) + '/ws/dashboard'
        self.messages: List[Tuple[float, Dict[str, Any]]] = []
        self.ws: Optional[aiohttp.ClientWebSocketResponse] = None
        self.reader: Optional['asyncio.Task[None]'] = None

    async def connect(self, within: float = 10.0) -> bool:
        """(Re)connect, retrying for at most `within` seconds."""
        await self.close()
        deadline = now() + within
        while now() < deadline:
            try:
                self.ws = await self.session.ws_connect(self.url, autoping=True)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                await asyncio.sleep(0.2)
                continue
            self.reader = asyncio.ensure_future(self._read(self.ws))
            return True
        return False

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(data, dict):
                    self.messages.append((now(), data))

    @property
    def connected(self) -> bool:
        """Return True while the socket is open."""
        return self.ws is not None and not self.ws.closed

    def responses_since(self, index: int) -> List[Tuple[float, Dict[str, Any]]]:
        """Return the command_response messages received after message `index`."""
        return [(t, m) for t, m in self.messages[index:] if m.get('type') == 'command_response']

    async def close(self) -> None:
        """Close the socket and stop its reader."""
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        self.ws = self.reader = None


class RosSide:
    """A small rclpy node: publishes on the bridge's ~/events, records its ~/commands."""

    def __init__(self, bridge_node: str = '/artbot_bridge') -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions
        from std_msgs.msg import String
        self._rclpy = rclpy
        self._string = String
        rclpy.init(args=[], signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(f'realhub_check_{os.getpid()}')
        self.events = self.node.create_publisher(String, f'{bridge_node}/events', 10)
        self.commands: List[Tuple[float, Dict[str, Any]]] = []
        self.node.create_subscription(String, f'{bridge_node}/commands', self._on_command, 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, name='ros', daemon=True)
        self.thread.start()

    def _on_command(self, msg: Any) -> None:
        try:
            data = json.loads(msg.data)
        except ValueError:
            data = {'unreadable': msg.data}
        self.commands.append((now(), data if isinstance(data, dict) else {'value': data}))

    def publish_event(self, text: str) -> None:
        """Publish one line on the bridge's ~/events topic."""
        self.events.publish(self._string(data=text))

    def close(self) -> None:
        """Stop spinning and shut rclpy down."""
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self._rclpy.try_shutdown()
        self.thread.join(2.0)


class Checker:
    """The five checks, in order, against one hub, one bridge and one demo robot."""

    def __init__(self, args: argparse.Namespace, session: aiohttp.ClientSession,
                 ros: RosSide) -> None:
        self.args = args
        self.hub = Hub(session, args.hub_url, args.agent_id)
        self.dash = Dashboard(session, args.hub_url)
        self.ros = ros
        self.log = HubLog(args.hub_log)
        self.report = Report()
        self.proxy: Optional[KillerProxy] = None
        self.caused = 0  # zombie lines check 6 caused on purpose

    # -- 1 ------------------------------------------------------------------------------------

    async def check_online(self) -> None:
        """1: the robot is online within `online_within` s of the bridge's start."""
        print('== 1: the robot online after the bridge starts', flush=True)
        started_at = await self._bridge_started()
        if started_at is None:
            self.report.add('1 online after bridge start', False, '',
                            f'no bridge start time in {self.args.bridge_started_file}')
            return
        started = now() - (time.time() - started_at)  # the start on the monotonic clock
        zombies = len(self.log.zombies())
        within = self.args.online_within
        seen: List[str] = []
        online = None
        record: Any = None
        for _ in range(2000):  # about 10 s past the bound, then give up
            code, record = await self.hub.robot()
            state = record.get('status') if code == 200 and isinstance(record, dict) \
                else f'HTTP {code}'
            if not seen or seen[-1] != state:
                seen.append(state)
            if state == 'online':
                online = now() - started
                break
            if now() - started > within + 10:
                break
            await asyncio.sleep(0.05)
        detail = 'statuses seen: ' + ' > '.join(seen)
        connected = None
        if online is not None and isinstance(record, dict):
            registered = record.get('registered_at')
            try:
                at = datetime.fromisoformat(registered).replace(tzinfo=timezone.utc)
                detail += f'; registered at +{at.timestamp() - started_at:.2f} s (hub clock)'
            except (TypeError, ValueError):
                pass
            connected = await self._socket_connected(started, within + 5)
        measured = f'online {online:.2f} s' if online is not None else 'never online'
        measured += (f', socket {connected:.2f} s' if connected is not None
                     else ', socket NOT connected')
        ok = online is not None and connected is not None and max(online, connected) <= within
        held, note = await self._link_holds(connected, zombies)
        self.report.add('1 online after bridge start', ok and held, measured, f'{detail}; {note}')
        self.log.watch('after check 1')

    async def _bridge_started(self) -> Optional[float]:
        path = self.args.bridge_started_file
        for _ in range(600):  # 30 s
            try:
                return float(path.read_text().strip())
            except (OSError, ValueError):
                await asyncio.sleep(0.05)
        return None

    async def _link_holds(self, connected: Optional[float], zombies: int) -> Tuple[bool, str]:
        """
        Return whether the agent's socket, once connected, outlives its first heartbeats.

        A frame the hub cannot handle kills its reader at once: the socket leaves the hub's
        table (a zombie) while the record stays online. `zombies` is the count of such log
        lines before the link was made.
        """
        if connected is None:
            return False, 'socket never connected'
        hold = 2.0 * HEARTBEAT_SECONDS
        await asyncio.sleep(hold)
        held = await self._socket_connected(now(), 0.0) is not None
        held = held and len(self.log.zombies()) == zombies
        return held, f'socket {"still" if held else "NOT"} connected {hold:.0f} s later'

    async def _socket_connected(self, started: float, within: float) -> Optional[float]:
        """
        Return when the hub listed the agent's socket as connected (seconds from `started`).

        The record says online from the registration on; commands need the socket too.
        """
        for _ in range(200):
            code, body = await self.hub.request('GET', '/api/agents/stats/connections')
            agents = body.get('connected_agents', []) if isinstance(body, dict) else []
            if code == 200 and self.args.agent_id in agents:
                return now() - started
            if now() - started > within:
                break
            await asyncio.sleep(0.05)
        return None

    # -- 2 ------------------------------------------------------------------------------------

    async def check_telemetry(self) -> None:
        """2: the metrics move over time; print and check the robot card."""
        count = max(2, self.args.samples)
        print(f'== 2: {count} robot records, 1 s apart', flush=True)
        samples: List[Dict[str, Any]] = []
        start = now()
        for n in range(count):
            code, record = await self.hub.robot()
            if code == 200 and isinstance(record, dict):
                samples.append(record)
                print(f'   +{now() - start:4.1f} s  '
                      + '  '.join(f'{key}={short(record.get(key, "-"), 12)}'
                                  for key in MOVING + ('status',)), flush=True)
            else:
                print(f'   +{now() - start:4.1f} s  HTTP {code}: {short(record)}', flush=True)
            if n < count - 1:
                await asyncio.sleep(max(0.0, start + n + 1 - now()))
        for key in MOVING:
            values = [s.get(key) for s in samples]
            numbers = [v for v in values if json_type(v) == 'number']
            # The registration's defaults and then one frozen value is one change: a zombie.
            changes = sum(1 for a, b in zip(numbers, numbers[1:]) if a != b)
            if numbers:
                measured = f'{numbers[0]} -> {numbers[-1]}, {changes} changes'
            else:
                measured = 'never set' if all(key not in s for s in samples) else 'no number'
            detail = f'{len(numbers)} of {len(samples)} samples numeric'
            if len(numbers) < len(values):
                kinds = sorted({json_type(v) for v in values})
                detail += f' (types seen: {short(kinds)})'
            moved = changes >= 2
            if not moved and key in STEADY and numbers and len(numbers) == len(values):
                # An idle host's memory can hold still at 0.1 % steps: then it must have left
                # the registration default and the record must keep being updated.
                updates = len({s.get('last_update') for s in samples}) - 1
                moved = all(n != REGISTRATION_DEFAULTS[key] for n in numbers) and updates >= 2
                detail += f'; steady, record updated {updates} times'
            self.report.add(f'2 {key} moves', moved, measured, detail)
        card = samples[-1] if samples else {}
        print('   the robot card (last record):', flush=True)
        wrong = []
        for key, want in CARD.items():
            value = card.get(key)
            shown = json.dumps(value) if key in card else 'MISSING'
            print(f'     {key:22} {shown}', flush=True)
            if key not in card:
                wrong.append(f'{key} missing')
            elif json_type(value) != want:
                wrong.append(f'{key} is {json_type(value)}')
        self.report.add('2 card keys', not wrong and bool(card),
                        f'{len(CARD) - len(wrong)} of {len(CARD)} right',
                        '; '.join(wrong) if wrong else 'all present with their types')
        self.log.watch('after check 2')

    # -- 3 ------------------------------------------------------------------------------------

    async def check_commands(self) -> None:
        """3: one command_response per button action; online again after start and stop."""
        print("== 3: the card's actions, one at a time", flush=True)
        if not self.dash.connected and not await self.dash.connect():
            self.report.add('3 dashboard socket', False, '', f'cannot connect {self.dash.url}')
            return
        for label, path, body, action in BUTTONS:
            await self.command(f'3 {label}', path, body, action)
        self.log.watch('after check 3')

    async def command(self, label: str, path: str, body: Any, action: str) -> None:
        """Send one command; require exactly one response on the dashboard, attributed to it."""
        state = await self.hub.status()
        if state != 'online':  # a robot left active or idle refuses commands: wait a bit
            await self.hub.wait_online(5.0)
        first_index = len(self.dash.messages)
        first_echo = len(self.ros.commands)
        sent = now()
        code, reply = await self.hub.request('POST', f'/api/robots/{self.hub.agent}{path}', body)
        posted = now()
        flip = None
        if action in FLIPPING:
            flip = asyncio.ensure_future(self.hub.wait_online(self.args.response_timeout))
        responses = await self._collect(first_index, sent)
        ids = sorted({str(m.get('command_id')) for _, m in responses})
        echoes = [m for _, m in self.ros.commands[first_echo:]]
        notes = [self._rest_note(code, reply)]
        ok = len(responses) == 1 and len(ids) == 1
        latency = responses[0][0] - sent if responses else None
        if responses:
            first = responses[0][1]
            data = first.get('data') if isinstance(first.get('data'), dict) else {}
            notes.append(f'{len(responses)} response(s), {len(ids)} id(s), '
                         f"success={json.dumps(first.get('success'))}, "
                         f"message={short(data.get('message', ''), 40)!r}")
        else:
            notes.append(f'no response in {self.args.response_timeout:.1f} s')
        if echoes:
            got = [(e.get('action'), e.get('command_id')) for e in echoes]
            notes.append('bridge got ' + ', '.join(str(a) for a, _ in got))
            if ids and got[0][1] not in ids:
                ok = False
                notes.append(f'the response is for another command ({ids[0]})')
            if got[0][0] != action:
                ok = False
                notes.append(f'expected the action {action}')
        measured = f'{latency * 1000:.0f} ms' if latency is not None else 'none'
        if flip is not None:
            back, seen = await flip
            if back is not None:
                back = max(0.0, posted + back - (responses[0][0] if responses else posted))
            ok = ok and back is not None and back <= self.args.flip_online_within
            if seen == ['online']:
                measured += ', status never left online'
            else:
                measured += ', online again ' + (f'{back:.2f} s after' if back is not None
                                                 else 'NEVER')
            notes.append('statuses ' + ' > '.join(seen))
        self.report.add(label, ok, measured, '; '.join(notes))

    async def _collect(self, first_index: int, sent: float) -> List[Tuple[float, Dict]]:
        """Collect new command_responses: wait for the first, then `settle` seconds more."""
        deadline = sent + self.args.response_timeout
        for _ in range(int((self.args.response_timeout + self.args.settle) / 0.02) + 2):
            responses = self.dash.responses_since(first_index)
            if responses:
                deadline = responses[0][0] + self.args.settle
            if now() >= deadline:
                break
            await asyncio.sleep(0.02)
        return self.dash.responses_since(first_index)

    @staticmethod
    def _rest_note(code: Optional[int], reply: Any) -> str:
        text = reply.get('detail', reply) if isinstance(reply, dict) else reply
        text = text if isinstance(text, str) else json.dumps(text, default=str)
        if code == 500 and "'role'" in text:
            return 'REST 500 (role: delivered)'
        if code == 500 and 'Failed to send command to robot' in text:
            return 'REST 500 (NOT delivered: no agent socket)'
        return f'REST {code}: {short(text, 60)}'

    # -- 4 ------------------------------------------------------------------------------------

    async def check_restarts(self) -> None:
        """4: kill the hub; the supervisor starts it again; the robot must be online again."""
        print(f'== 4: {self.args.restarts} hub restarts', flush=True)
        for n in range(self.args.restarts):
            if n:
                await asyncio.sleep(self.args.restart_gap)  # the new link lives a while
            await self.restart(n + 1, RESTART_SIGNALS[n % len(RESTART_SIGNALS)])
        self.log.watch('after the restarts')
        if not await self.dash.connect():
            self.report.add('4 command after restarts', False, '', 'no dashboard socket')
            return
        await self.command('4 command after restarts', '/command',
                           {'action': 'status', 'parameters': {}}, 'status')

    async def restart(self, n: int, sig: int) -> None:
        """Kill the running uvicorn with `sig`; measure until the robot is online again."""
        label = f'4 restart {n} ({signal.Signals(sig).name})'
        old = self._hub_pid()
        if old is None:
            self.report.add(label, False, '', f'no pid in {self.args.hub_pidfile}')
            return
        zombies = len(self.log.zombies())
        killed = now()
        os.kill(old, sig)
        new = None
        escalated = ''
        for _ in range(300):  # the supervisor writes the next uvicorn's pid
            new = self._hub_pid()
            if new is not None and new != old:
                break
            if not escalated and now() - killed > 10.0:
                try:
                    os.kill(old, signal.SIGKILL)
                except ProcessLookupError:
                    pass  # it exited, and the supervisor started no other
                escalated = '; no new hub within 10 s'
            await asyncio.sleep(0.05)
        if new is None or new == old:
            self.report.add(label, False, '', 'the hub was not started again' + escalated)
            return
        exited = now() - killed
        up = None
        for _ in range(400):
            if await self.hub.up():
                up = now() - killed
                break
            if now() - killed > 30.0:
                break
            await asyncio.sleep(0.05)
        if up is None:
            self.report.add(label, False, '', 'the hub did not answer again' + escalated)
            return
        back, seen = await self.hub.wait_online(self.args.restart_online_within)
        online = up + back if back is not None else None
        connected = await self._socket_connected(killed, up + self.args.restart_online_within)
        measured = (f'online {online:.2f} s' if online is not None else 'NOT online')
        measured += (f', socket {connected:.2f} s' if connected is not None
                     else ', socket NOT connected')
        detail = (f'old hub gone {exited:.2f} s, new hub up {up:.2f} s; robot: '
                  + ' > '.join(seen) + escalated)
        held, note = await self._link_holds(connected, zombies)
        self.report.add(label, online is not None and held, measured + ' after the kill',
                        f'{detail}; {note}')

    def _hub_pid(self) -> Optional[int]:
        try:
            return int(self.args.hub_pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    # -- 5 ------------------------------------------------------------------------------------

    async def check_logs(self) -> None:
        """5: lines on ~/events are stored as the robot's logs, with upper case levels."""
        print('== 5: log lines published on /artbot_bridge/events', flush=True)
        for _ in range(100):
            if self.ros.events.get_subscription_count() > 0:
                break
            await asyncio.sleep(0.1)
        subscribers = self.ros.events.get_subscription_count()
        marker = f'realhub-check {uuid.uuid4().hex[:8]}'
        count = 3
        sent = now()
        for n in range(count):
            self.ros.publish_event(f'{marker} event {n + 1}')
            await asyncio.sleep(0.2)
        found: List[Dict[str, Any]] = []
        entries: List[Any] = []
        code: Optional[int] = None
        stored = None
        for _ in range(100):
            code, body = await self.hub.request('GET',
                                                f'/api/robots/{self.hub.agent}/logs?limit=1000')
            entries = body.get('logs', []) if code == 200 and isinstance(body, dict) else []
            found = [e for e in entries
                     if isinstance(e, dict) and marker in str(e.get('message', ''))]
            if len(found) >= count:
                stored = now() - sent
                break
            if now() - sent > 8.0:
                break
            await asyncio.sleep(0.1)
        levels = sorted({str(e.get('level')) for e in entries if isinstance(e, dict)})
        lower = [level for level in levels if level != level.upper()]
        mine = sorted({str(e.get('level')) for e in found})
        ok = code == 200 and len(found) == count and not lower
        measured = f'{len(found)} of {count} stored'
        if stored is not None:
            measured += f' after {stored:.2f} s'
        detail = (f'GET logs {code}; {len(entries)} entries; levels of these {mine}, '
                  f'of all {levels}; {subscribers} subscriber(s) on ~/events')
        if lower:
            detail += f'; NOT upper case: {lower}'
        if found:
            detail += f"; source {short(found[0].get('source'), 20)}"
        self.report.add('5 event lines stored', ok, measured, detail)
        self.log.watch('after check 5')

    # -- 6 ------------------------------------------------------------------------------------

    async def check_dead_reader(self) -> None:
        """6: kill the hub's reader behind held answers; every answer must still arrive."""
        print("== 6: the hub's reader killed mid-answers", flush=True)
        proxy = self.proxy
        if not self.dash.connected and not await self.dash.connect():
            self.report.add('6 reader killed', False, '', f'cannot connect {self.dash.url}')
            return
        await self.hub.wait_online(5.0)
        zombies, first_index = len(self.log.zombies()), len(self.dash.messages)
        first_echo = len(self.ros.commands)
        proxy.hold()
        codes = []
        for _ in range(self.args.kill_commands):
            code, _ = await self.hub.request('POST', f'/api/robots/{self.hub.agent}/command',
                                             {'action': 'get_logs', 'parameters': {}})
            codes.append(code)
        await asyncio.sleep(1.0)  # the bridge answers; the proxy keeps the answers back
        got = {str(e.get('command_id')) for _, e in self.ros.commands[first_echo:]}
        held = proxy.release()
        killed = now()

        def answered() -> set:
            return {str(m.get('command_id')) for _, m in self.dash.responses_since(first_index)}
        while now() - killed < self.args.kill_within and not got <= answered():
            await asyncio.sleep(0.1)
        took = now() - killed
        lost = got - answered()
        back = await self._socket_connected(now(), 5.0)
        caused = self.log.zombies()[zombies:]
        self.caused += len(caused)
        self.log.reported = len(self.log.zombies())
        ok = bool(got) and not lost and bool(caused) and back is not None
        measured = (f'{len(got)} answers held, {len(lost)} lost; all handled '
                    f'{took:.1f} s after the kill' if not lost else f'{len(lost)} LOST')
        detail = (f'{held} bytes held; REST {sorted(set(codes))}; hub reader died: '
                  f'{"yes" if caused else "NO"}; the socket '
                  + ('connected again' if back is not None else 'NOT connected again'))
        self.report.add('6 reader killed: every answer handled', ok, measured, detail)

    # -- 7 ------------------------------------------------------------------------------------

    async def _answer(self, action: str, parameters: Dict[str, Any],
                      stall: float = 0.0) -> Tuple[Optional[int], Dict[str, Any]]:
        """Send one command (the bridge stopped for `stall` s around it); return its answer."""
        await self.hub.wait_online(5.0)
        first_index, sent = len(self.dash.messages), now()
        pid = int(self.args.bridge_pidfile.read_text()) if stall else 0
        if pid:
            os.kill(pid, signal.SIGSTOP)
        try:
            code, _ = await self.hub.request('POST', f'/api/robots/{self.hub.agent}/command',
                                             {'action': action, 'parameters': parameters})
            await asyncio.sleep(stall)
        finally:
            if pid:
                os.kill(pid, signal.SIGCONT)
        responses = await self._collect(first_index, sent)
        first = responses[0][1] if responses else {}
        return code, first.get('data') if isinstance(first.get('data'), dict) else {}

    async def check_deadline(self) -> None:
        """7: a command held in a stalled bridge is answered expired; the clock's figures."""
        stall = self.args.stall
        print(f'== 7: a drive command held {stall:g} s in a stopped bridge', flush=True)
        if not self.dash.connected and not await self.dash.connect():
            self.report.add('7 deadline', False, '', f'cannot connect {self.dash.url}')
            return
        first_echo = len(self.ros.commands)
        code, late = await self._answer('drive', {'speed': 0.05}, stall)
        age = late.get('age')
        ok = late.get('reason') == 'expired' and isinstance(age, (int, float)) and \
            stall - 0.5 <= age <= stall + 2.0
        self.report.add('7 stalled command expired', ok,
                        f'age {age} s, bound {late.get("max_age")} s' if ok else 'NOT expired',
                        f'REST {code}; {short(late.get("message", ""), 70)!r}')
        code, fresh = await self._answer('drive', {'speed': 0.05})
        ran = 'published' in str(fresh.get('message', ''))
        self.report.add('7 fresh command runs', ran, 'published' if ran else 'NOT run',
                        f'REST {code}; {short(fresh.get("message", ""), 60)!r}')
        code, status = await self._answer('status', {})
        figures = status.get('result') if isinstance(status.get('result'), dict) else {}
        offset, spread = figures.get('clock_offset_s'), figures.get('clock_uncertainty_s')
        known = isinstance(offset, (int, float)) and isinstance(spread, (int, float))
        self.report.add('7 clock offset known', known and abs(offset) < 2.0,
                        f'{offset} s +/- {spread} s' if known else 'unknown',
                        f"one machine: about 0; expired {figures.get('commands_expired')}, "
                        f"unstamped {figures.get('commands_unstamped')}; bridge got "
                        f'{len(self.ros.commands) - first_echo} commands')

    # -- all ----------------------------------------------------------------------------------

    async def run(self, ready_file: Path) -> int:
        """Run every check; print the table; return the exit code."""
        reason = await self.hub.login(os.environ.get('ADMIN_PASSWORD', 'admin123'))
        if reason:
            self.report.add('0 operator login', False, '', reason)
        elif not await self.dash.connect():
            self.report.add('0 dashboard socket', False, '', f'cannot connect {self.dash.url}')
        ready_file.touch()
        try:
            if not self.report.failed:
                await self.check_online()
                await self.check_telemetry()
                await self.check_commands()
                await self.check_restarts()
                await self.check_logs()
                if self.proxy is not None:
                    await self.check_dead_reader()
                if self.args.bridge_pidfile is not None:
                    await self.check_deadline()
        except asyncio.CancelledError:  # SIGTERM or Ctrl-C: the table so far, then stop
            self.report.add('run to the end', False, '', 'interrupted')
            self.finish()
            raise
        return self.finish()

    def finish(self) -> int:
        """Add the zombie row; print (and write) the table; return the exit code."""
        zombies = self.log.zombies()[self.caused:] if self.caused else self.log.zombies()
        self.log.watch('at the end')
        self.report.add('hub reader never died', not zombies,
                        f'{len(zombies)} "{ZOMBIE_MARK}" line(s)',
                        short(zombies[0], 200) if zombies else '')
        table = self.report.table()
        print('\n== realhub check: bridge against the real hub\n' + table, flush=True)
        if self.args.report:
            self.args.report.write_text(table + '\n')
        return 1 if self.report.failed else 0


async def amain(args: argparse.Namespace) -> int:
    """Set up the operator's side (HTTP, dashboard, ROS) and run the checks."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # cancel at an await: cleanup runs
        loop.add_signal_handler(signum, task.cancel)
    ros = RosSide()
    try:
        async with aiohttp.ClientSession() as session:
            checker = Checker(args, session, ros)
            if args.proxy_port_file is not None:
                checker.proxy = KillerProxy(int(args.hub_url.rsplit(':', 1)[1]))
                args.proxy_port_file.write_text(f'{await checker.proxy.start()}\n')
            try:
                return await checker.run(args.ready_file)
            finally:
                await checker.dash.close()
                if checker.proxy is not None:
                    await checker.proxy.close()
    finally:
        ros.close()


def main() -> int:
    """Run the checker; SIGTERM and SIGINT print the table so far and stop it."""
    args = parse_args()
    try:
        return asyncio.run(amain(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print('realhub_check: interrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
