"""Real things for the tests: the local hub in a thread, the bridge as a process, a TCP proxy."""

import asyncio
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from artbot_bridge.core.loop_thread import LoopThread
from artbot_bridge.devhub.server import DevHub

ROOT = Path(__file__).resolve().parent.parent

# Short timings so that tests take seconds; every one is an ordinary parameter.
FAST = {
    'heartbeat_interval': 1.0,
    'monitor_interval': 0.5,
    'reconnect_initial_delay': 0.2,
    'reconnect_max_delay': 1.0,
    'reconnect_reset_after': 2.0,
    'open_timeout': 2.0,
    'ping_interval': 2.0,
    'ping_timeout': 2.0,
    'close_timeout': 1.0,
    'env_file': '',
}


def wait_for(predicate: Callable[[], Any], timeout: float, what: str,
             seen: Callable[[], Any] = lambda: None) -> Any:
    """Poll until `predicate()` is truthy; fail naming `what` (and what was seen) otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout} s waiting for {what}; '
                                 f'seen: {seen()!r}')
        time.sleep(0.02)


class ManualClock:
    """A monotonic clock that moves only when a test sets `now`."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class HubHarness:
    """The local hub running in its own loop thread, restartable on the same port."""

    def __init__(self, port: int = 0, ping_interval: float = 20.0, host: str = '127.0.0.1',
                 **options: Any) -> None:
        self.loop = LoopThread('devhub')
        self.loop.start()
        self.hub = DevHub(host, port, ping_interval, **options)
        self.running = False

    @property
    def url(self) -> str:
        """Return the hub's http(s) URL."""
        scheme = 'https' if self.hub.ssl_context else 'http'
        return f'{scheme}://{self.hub.host}:{self.hub.port}'

    def start(self) -> None:
        """Start listening."""
        self.loop.run(self.hub.start(), timeout=5)
        self.running = True

    def stop(self) -> None:
        """Stop listening; every socket is closed (1001) and every agent forgotten."""
        self.loop.run(self.hub.stop(), timeout=10)
        self.running = False

    def close(self) -> None:
        """Stop the hub and its thread."""
        if self.running:
            self.stop()
        self.loop.stop()

    def kick(self, agent_id: str, code: int = 1000) -> None:
        """Close the agent's sockets from the hub's side (a server-initiated close)."""
        async def close_all() -> None:
            for ws in list(self.hub.sockets.get(agent_id, [])):
                await ws.close(code=code, message=b'closed by test')
        self.loop.run(close_all(), timeout=5)

    def send_command(self, agent_id: str, command: Dict[str, Any]) -> None:
        """Send a command dict to the agent's first socket."""
        self.send_raw(agent_id, json.dumps(command))

    def send_raw(self, agent_id: str, frame: Any) -> None:
        """Send one text (str) or binary (bytes) frame to the agent's first socket."""
        async def send() -> None:
            ws = self.hub.sockets[agent_id][0]
            await (ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_str(frame))
        self.loop.run(send(), timeout=5)

    def restart_times(self, agent_id: str, times: int) -> List[Dict[str, Any]]:
        """Restart the hub `times` times, each time waiting for the agent to be back."""
        already = len(self.events('connect', agent_id=agent_id))
        for restart in range(times):
            self.stop()
            self.start()
            self.wait_connected(agent_id, count=already + restart + 1)
        return self.events('connect', agent_id=agent_id)

    def events(self, kind: Optional[str] = None, **match: Any) -> List[Dict[str, Any]]:
        """Return the hub's events, filtered by kind and field values."""
        return [e for e in list(self.hub.events)
                if (kind is None or e['kind'] == kind)
                and all(e.get(k) == v for k, v in match.items())]

    def messages(self, agent_id: str, kind: str) -> List[Dict[str, Any]]:
        """Return the agent's messages of one type, in order."""
        return [e['message'] for e in self.events('message', agent_id=agent_id, type=kind)]

    def answers(self, agent_id: str, command_id: str) -> List[Dict[str, Any]]:
        """Return the agent's command_responses to one command id, in order."""
        return [m for m in self.messages(agent_id, 'command_response')
                if m.get('command_id') == command_id]

    def answer_counts(self, agent_id: str) -> Dict[str, int]:
        """Return how many command_responses the agent sent for each command id."""
        counts: Dict[str, int] = {}
        for message in self.messages(agent_id, 'command_response'):
            counts[message.get('command_id')] = counts.get(message.get('command_id'), 0) + 1
        return counts

    def wait_connected(self, agent_id: str, count: int = 1, timeout: float = 15.0) -> Dict:
        """Wait for the `count`-th socket connect of `agent_id`; return that event."""
        wait_for(lambda: len(self.events('connect', agent_id=agent_id)) >= count, timeout,
                 f'connect #{count} of {agent_id}', lambda: self.events()[-5:])
        return self.events('connect', agent_id=agent_id)[count - 1]


class BridgeProcess:
    """The real bridge, `python -m artbot_bridge`, with parameters from a YAML file."""

    def __init__(self, params: Dict[str, Any], env: Optional[Dict[str, str]] = None,
                 ros_args: Tuple[str, ...] = (), prefix: Tuple[str, ...] = ()) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix='artbot-bridge-test-')
        params_file = Path(self._dir.name, 'params.yaml')
        params_file.write_text(json.dumps({'/**': {'ros__parameters': params}}))  # JSON is YAML
        self.log_path = Path(self._dir.name, 'bridge.log')
        process_env = dict(os.environ, **(env or {}))
        process_env['PYTHONPATH'] = os.pathsep.join(
            [str(ROOT)] + [p for p in [os.environ.get('PYTHONPATH')] if p])
        process_env['PYTHONUNBUFFERED'] = '1'
        with open(self.log_path, 'wb') as log:
            self.process = subprocess.Popen(
                [*prefix, sys.executable, '-m', 'artbot_bridge', '--ros-args', '--params-file',
                 str(params_file), *ros_args],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=process_env, cwd=self._dir.name, start_new_session=True)

    def output(self) -> str:
        """Return everything the bridge printed so far."""
        return self.log_path.read_text(errors='replace')

    def alive(self) -> bool:
        """Return whether the process still runs."""
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        """Send a signal to the bridge process."""
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the exit code."""
        return self.process.wait(timeout)

    def close(self) -> None:
        """Stop the bridge if it still runs (SIGTERM, then SIGKILL) and remove its files."""
        if self.alive():
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self._dir.cleanup()


class FaultProxy:
    """
    A TCP proxy on loopback between the bridge and the hub, with three faults.

    `blackhole`: bytes are read and dropped (a dead Wi-Fi link, nothing closed).
    `stalled`: the bridge's side is not read at all (a hub that stopped reading); once the
    socket buffers are full, the bridge's writes back up.
    `delay` (seconds, fixed at construction): what the hub sends reaches the bridge that late,
    read at once and held in order (a long one-way latency, with no back-pressure).
    """

    def __init__(self, loop: LoopThread, target_port: int, delay: float = 0.0) -> None:
        self.loop = loop
        self.target_port = target_port
        self.delay = delay
        self.blackhole = False
        self.stalled = False
        self.connections = 0
        self._server: Any = None
        self._writers: List[asyncio.StreamWriter] = []
        self.port = loop.run(self._start(), timeout=5)

    async def _start(self) -> int:
        self._server = await asyncio.start_server(self._handle, '127.0.0.1', 0)
        return self._server.sockets[0].getsockname()[1]

    async def _handle(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        try:
            upstream_r, upstream_w = await asyncio.open_connection('127.0.0.1', self.target_port)
        except OSError:
            client_w.close()
            return
        self.connections += 1
        self._writers += [client_w, upstream_w]
        down = self._late(upstream_r, client_w) if self.delay else self._pipe(upstream_r, client_w)
        try:
            await asyncio.gather(self._pipe(client_r, upstream_w, from_bridge=True), down,
                                 return_exceptions=True)
        except asyncio.CancelledError:
            pass  # held bytes still due as the loop stops (3.11.7 logs a cancelled handler)
        finally:
            for writer in (client_w, upstream_w):
                writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    from_bridge: bool = False) -> None:
        """Copy one direction; the bridge's direction can stall."""
        try:
            while True:
                while from_bridge and self.stalled:
                    await asyncio.sleep(0.05)
                data = await reader.read(65536)
                if not data:
                    break
                if not self.blackhole:
                    writer.write(data)
                    await writer.drain()
        finally:
            writer.close()

    async def _late(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy the hub's direction `delay` seconds late: read at once, write when due."""
        held: 'asyncio.Queue[Tuple[float, bytes]]' = asyncio.Queue()

        async def read() -> None:
            try:
                while data := await reader.read(65536):
                    held.put_nowait((time.monotonic() + self.delay, data))
            finally:  # the end, or a reset, is passed on as late as the bytes before it
                held.put_nowait((time.monotonic() + self.delay, b''))
        reading = asyncio.ensure_future(read())
        try:
            while True:
                due, data = await held.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        finally:
            reading.cancel()
            writer.close()

    def close(self) -> None:
        """Stop accepting and close every piped connection."""
        async def stop() -> None:
            self._server.close()
            for writer in self._writers:
                writer.close()
        self.loop.run(stop(), timeout=5)


TRIGGER = """
import base64, os, sys, time, rclpy
from std_srvs.srv import Trigger
rclpy.init()
node = rclpy.create_node('trigger_target')
delay, size = float(sys.argv[2]), int(sys.argv[3]) * 3 // 4
def answer(request, response):
    print('called', flush=True)
    time.sleep(delay)
    response.success = True
    # New random text for each answer: per-message deflate cannot shrink it much.
    response.message = base64.b64encode(os.urandom(size)).decode() if size else 'ok'
    return response
node.create_service(Trigger, sys.argv[1], answer)
print('ready', flush=True)
try:
    rclpy.spin(node)
except BaseException:
    pass
"""


class TriggerTarget:
    """
    A Trigger service in its own process that counts its calls through its output.

    Each call takes `delay` seconds; its answer is 'ok', or `chars` random characters.
    `prefix` runs the process inside something (`ip netns exec ...`).
    """

    def __init__(self, service: str, delay: float = 0.0, chars: int = 0,
                 prefix: Tuple[str, ...] = ()) -> None:
        self.process = subprocess.Popen(
            [*prefix, sys.executable, '-c', TRIGGER, service, str(delay), str(chars)],
            stdout=subprocess.PIPE, text=True)
        self.lines: List[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(lambda: 'ready' in self.lines, 20, 'the target service')

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.strip())

    @property
    def calls(self) -> int:
        """Return how many calls the service took."""
        return self.lines.count('called')

    def kill(self) -> None:
        """SIGKILL: a target that crashes."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
