"""
The bridge against the raw limits, measured in one run: `make bench`.

Prints one table and writes it, with the machine's description, to bench/RESULTS.md.
Absolute times on a shared machine are noise; the ratios to the raw limit measured in the
same run are the figures. Real processes throughout: the bridge, a bare rclpy node, a
publisher and a Trigger service, and the local hub in this process.
"""

import argparse
from importlib import metadata
import os
from pathlib import Path
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from typing import Dict, List
import uuid

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'test')]

from harness import BridgeProcess, HubHarness, wait_for  # noqa: E402

PUBLISHER = """
import sys, rclpy
from sensor_msgs.msg import BatteryState
n, rate = int(sys.argv[1]), float(sys.argv[2])
rclpy.init()
node = rclpy.create_node('bench_publisher')
pubs = [node.create_publisher(BatteryState, f'/bench/battery_{i}', 10) for i in range(n)]
msg = BatteryState(percentage=0.5, voltage=15.0)
node.create_timer(1.0 / rate, lambda: [p.publish(msg) for p in pubs])
try:
    rclpy.spin(node)
except BaseException:
    pass
"""
BARE = """
import sys, rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
rclpy.init()
node = rclpy.create_node('bench_bare')
latest = {}
qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
for i in range(int(sys.argv[1])):
    node.create_subscription(BatteryState, f'/bench/battery_{i}',
                             lambda m, i=i: latest.__setitem__(i, m), qos)
def first_spin():
    print('spinning', flush=True)
    timer.cancel()
timer = node.create_timer(0.001, first_spin)
try:
    rclpy.spin(node)
except BaseException:
    pass
"""
SERVICE = """
import rclpy
from std_srvs.srv import Trigger
rclpy.init()
node = rclpy.create_node('bench_service')
def answer(request, response):
    response.success, response.message = True, 'ok'
    return response
node.create_service(Trigger, '/bench/trigger', answer)
try:
    rclpy.spin(node)
except BaseException:
    pass
"""


def spawn(code: str, *args: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, '-c', code, *map(str, args)],
                            stdout=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def usage(pids: List[int], seconds: float) -> Dict[int, tuple]:
    """Return {pid: (CPU % of one core, mean RSS MB)} over `seconds`."""
    processes = {pid: psutil.Process(pid) for pid in pids}
    before = {pid: p.cpu_times() for pid, p in processes.items()}
    rss: Dict[int, List[float]] = {pid: [] for pid in pids}
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        time.sleep(1.0)
        for pid, process in processes.items():
            rss[pid].append(process.memory_info().rss / 2 ** 20)
    elapsed = time.monotonic() - started
    result = {}
    for pid, process in processes.items():
        after = process.cpu_times()
        cpu = (after.user - before[pid].user + after.system - before[pid].system) / elapsed
        result[pid] = (100.0 * cpu, statistics.mean(rss[pid]))
    return result


def sources(n: int) -> dict:
    names = [f'b{i}' for i in range(n)]
    params = {'status_sources': names}
    for i, name in enumerate(names):
        params[f'{name}.topic'] = f'/bench/battery_{i}'
        params[f'{name}.type'] = 'sensor_msgs/msg/BatteryState'
    return params


def telemetry(hub: HubHarness, n: int, rate: float, seconds: float) -> tuple:
    """Bridge and bare node on the same n topics at `rate` Hz: CPU % and RSS MB of each."""
    publisher = spawn(PUBLISHER, n, rate)
    bare = spawn(BARE, n)
    agent = f'bench-{n}-{int(rate)}'
    bridge = BridgeProcess({'hub_url': hub.url, 'agent_id': agent, 'env_file': '',
                            'monitor_interval': 1.0, **sources(n)})
    try:
        hub.wait_connected(agent, timeout=30)
        if n:
            wait_for(lambda: any(m['data'].get('sources', {}).get('b0', {}).get('count', 0) > 5
                                 for m in hub.messages(agent, 'robot_status')), 60,
                     'messages flowing')
        measured = usage([bridge.process.pid, bare.pid], seconds)
        return measured[bridge.process.pid], measured[bare.pid]
    finally:
        bridge.close()
        stop(bare)
        stop(publisher)


def round_trips(hub: HubHarness, count: int) -> tuple:
    """Return p50/p99 ms of Trigger commands through the hub, and of the raw parts alone."""
    import rclpy
    from std_srvs.srv import Trigger
    service = spawn(SERVICE)
    bridge = BridgeProcess({'hub_url': hub.url, 'agent_id': 'bench-rtt', 'env_file': '',
                            'commands': ['trigger'], 'trigger.service': '/bench/trigger',
                            'trigger.type': 'std_srvs/srv/Trigger'})
    answered = threading.Event()
    waiting = {}
    original = hub.hub._event

    def tap(kind: str, **fields: object) -> None:
        original(kind, **fields)
        message = fields.get('message') or {}
        if isinstance(message, dict) and message.get('command_id') == waiting.get('id') \
                and message.get('type') == 'command_response':
            answered.set()

    hub.hub._event = tap
    try:
        hub.wait_connected('bench-rtt', timeout=30)
        bridge_ms = []
        for i in range(count + 20):
            answered.clear()
            waiting['id'] = str(uuid.uuid4())
            started = time.perf_counter()
            hub.send_command('bench-rtt', {'command_id': waiting['id'], 'action': 'trigger'})
            if not answered.wait(10):
                raise SystemExit(f'command {i} got no answer')
            if i >= 20:
                bridge_ms.append((time.perf_counter() - started) * 1000)
        from rclpy.executors import SingleThreadedExecutor
        context = rclpy.Context()
        rclpy.init(context=context)
        node = rclpy.create_node('bench_client', context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        client = node.create_client(Trigger, '/bench/trigger')
        client.wait_for_service(timeout_sec=10)
        raw_ms = []
        for i in range(count + 20):
            started = time.perf_counter()
            future = client.call_async(Trigger.Request())
            executor.spin_until_future_complete(future, timeout_sec=10)
            if i >= 20:
                raw_ms.append((time.perf_counter() - started) * 1000)
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
        echo_ms = websocket_echo(hub, count)
    finally:
        hub.hub._event = original
        bridge.close()
        stop(service)
    return percentiles(bridge_ms), percentiles(raw_ms), percentiles(echo_ms)


def websocket_echo(hub: HubHarness, count: int) -> List[float]:
    """Return round trips of a websockets client against an echo server on loopback."""
    import asyncio
    import websockets

    async def echo(ws: object) -> None:
        async for message in ws:
            await ws.send(message)

    async def measure() -> List[float]:
        async with websockets.serve(echo, '127.0.0.1', 0) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            async with websockets.connect(f'ws://127.0.0.1:{port}') as ws:
                times = []
                for i in range(count + 20):
                    started = time.perf_counter()
                    await ws.send('{"type": "command_response", "command_id": "x"}')
                    await ws.recv()
                    if i >= 20:
                        times.append((time.perf_counter() - started) * 1000)
                return times
    return asyncio.run(measure())


def percentiles(samples: List[float]) -> tuple:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)]


def reconnects(hub: HubHarness, times: int) -> List[float]:
    """Return ms from the hub accepting again to the bridge registered and connected."""
    bridge = BridgeProcess({'hub_url': hub.url, 'agent_id': 'bench-re', 'env_file': '',
                            'reconnect_reset_after': 1.0})
    try:
        hub.wait_connected('bench-re', timeout=30)
        delays = []
        for restart in range(times):
            time.sleep(1.2)  # a connection that lived: the backoff starts again
            hub.stop()
            hub.start()
            accepted = time.monotonic()
            event = hub.wait_connected('bench-re', count=restart + 2, timeout=60)
            delays.append((event['t'] - accepted) * 1000)
        return delays
    finally:
        bridge.close()


def startups(hub: HubHarness, runs: int) -> tuple:
    """Return median ms: bridge start to connected, bare node start to first spin."""
    bridge_ms, bare_ms = [], []
    for run in range(runs):
        started = time.monotonic()
        bridge = BridgeProcess({'hub_url': hub.url, 'agent_id': f'bench-up-{run}',
                                'env_file': ''})
        try:
            event = hub.wait_connected(f'bench-up-{run}', timeout=30)
            bridge_ms.append((event['t'] - started) * 1000)
        finally:
            bridge.close()
        started = time.monotonic()
        bare = spawn(BARE, 0)
        bare.stdout.readline()
        bare_ms.append((time.monotonic() - started) * 1000)
        stop(bare)
    return statistics.median(bridge_ms), statistics.median(bare_ms)


def exits(hub: HubHarness, runs: int) -> List[float]:
    """Return ms from SIGINT / SIGTERM (alternately) to the bridge's exit (code 0 required)."""
    times = []
    for run in range(runs):
        bridge = BridgeProcess({'hub_url': hub.url, 'agent_id': f'bench-sig-{run}',
                                'env_file': ''})
        try:
            hub.wait_connected(f'bench-sig-{run}', timeout=30)
            started = time.monotonic()
            bridge.signal(signal.SIGINT if run % 2 else signal.SIGTERM)
            if bridge.wait(10) != 0:
                raise SystemExit('the bridge did not exit with 0')
            times.append((time.monotonic() - started) * 1000)
        finally:
            bridge.close()
    return times


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2 ** 30
    try:
        version = f'rclpy {metadata.version("rclpy")}'
    except metadata.PackageNotFoundError:
        version = 'rclpy (version unknown)'
    return (f'{platform.node()}: {psutil.cpu_count()} cores ({cpu}), {memory:.0f} GiB, '
            f'{platform.platform()}, Python {platform.python_version()}, {version}')


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--seconds', type=float, default=30.0, help='per CPU measurement')
    parser.add_argument('--commands', type=int, default=1000)
    parser.add_argument('--restarts', type=int, default=20)
    options = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 90 + 10))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    hub = HubHarness()
    hub.start()
    rows = []
    try:
        (bcpu, brss), (rcpu, rrss) = telemetry(hub, 10, 100.0, options.seconds)
        rows.append(('telemetry CPU: 10 topics at 100 Hz, robot_status every 1 s',
                     f'{bcpu:.1f} % of a core', f'bare rclpy node: {rcpu:.1f} %',
                     f'{bcpu / rcpu:.2f}'))
        for n in (1, 50):
            (bcpu_n, _), (rcpu_n, _) = telemetry(hub, n, 100.0, options.seconds / 2)
            rows.append((f'telemetry CPU: {n} topics at 100 Hz', f'{bcpu_n:.1f} %',
                         f'bare: {rcpu_n:.1f} %', f'{bcpu_n / max(rcpu_n, 0.01):.2f}'))
        (icpu, irss), (bare_cpu, bare_rss) = telemetry(hub, 0, 1.0, options.seconds)
        rows.append(('footprint at idle', f'{icpu:.2f} % CPU, {irss:.1f} MB RSS',
                     f'bare rclpy node: {bare_cpu:.2f} %, {bare_rss:.1f} MB',
                     f'RSS {irss / bare_rss:.2f}'))
        (b50, b99), (r50, r99), (e50, e99) = round_trips(hub, options.commands)
        rows.append((f'command round trip: {options.commands} Trigger commands',
                     f'p50 {b50:.2f} ms, p99 {b99:.2f} ms',
                     f'rclpy call p50 {r50:.2f} + WebSocket echo p50 {e50:.2f} ms',
                     f'{b50 / (r50 + e50):.2f}'))
        delays = reconnects(hub, options.restarts)
        rows.append((f'reconnect: hub restarted {options.restarts} times',
                     f'p50 {statistics.median(delays):.0f} ms, max {max(delays):.0f} ms',
                     '-', '-'))
        up_bridge, up_bare = startups(hub, 5)
        rows.append(('start-up: process start to connected', f'{up_bridge:.0f} ms',
                     f'bare rclpy node to first spin: {up_bare:.0f} ms',
                     f'{up_bridge / up_bare:.2f}'))
        stops = exits(hub, 20)
        rows.append(('SIGINT/SIGTERM to exit 0, 20 times',
                     f'p50 {statistics.median(stops):.0f} ms, max {max(stops):.0f} ms',
                     '-', '-'))
    finally:
        hub.close()
    table = ['| figure | bridge | raw limit measured in the same run | ratio |',
             '| --- | --- | --- | --- |'] + [f'| {" | ".join(row)} |' for row in rows]
    text = '\n'.join(['# Benchmark results', '', f'Machine: {machine()}', '',
                      f'Run: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}', ''] +
                     table) + '\n'
    print(text)
    (ROOT / 'bench' / 'RESULTS.md').write_text(text)


if __name__ == '__main__':
    main()
