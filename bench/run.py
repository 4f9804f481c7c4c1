"""
The bridge against the raw limits, measured in one run: `make bench`.

Prints one table and writes it, with the machine's description, to bench/RESULTS.md.
Absolute times on a shared machine are noise; the ratios to the raw limit measured in the
same run are the figures. Real processes throughout: the bridge, a bare rclpy node, a
publisher and a Trigger service, and the local hub in this process.
"""

import argparse
from importlib import metadata
import json
import os
from pathlib import Path
import platform
import signal
import statistics
import sys
import time
from typing import Dict, List, Optional, Tuple
import uuid

import psutil

ROOT = Path(__file__).resolve().parent.parent
# The two figures most exposed to a busy machine are measured this many times, bridge and raw
# limits alternating; the table shows the median round and the range of its ratios.
ROUNDS = 3
sys.path[:0] = [str(ROOT), str(ROOT / 'test')]

from harness import BridgeProcess, HubHarness, wait_for  # noqa: E402, I100
from peers import spawn, stop  # noqa: E402
from quota import CpuQuota  # noqa: E402
import streams  # noqa: E402


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
    params = {'status_sources': names} if names else {}
    for i, name in enumerate(names):
        params[f'{name}.topic'] = f'/bench/battery_{i}'
        params[f'{name}.type'] = 'sensor_msgs/msg/BatteryState'
    return params


def telemetry(hub: HubHarness, n: int, rate: float, seconds: float,
              quotas: Optional[Tuple[CpuQuota, CpuQuota]] = None) -> tuple:
    """
    Bridge and bare node on the same n topics at `rate` Hz: CPU % and RSS MB of each.

    With `quotas`, the bridge runs in the first cgroup and the bare node in the second.
    """
    publisher = spawn('publisher', n, rate)
    bare = spawn('bare', n)
    agent = f'bench-{n}-{int(rate)}' + ('-quota' if quotas else '')
    bridge = BridgeProcess({'hub_url': hub.url, 'agent_id': agent, 'env_file': '',
                            'monitor_interval': 1.0, **sources(n)})
    if quotas:
        quotas[0].add(bridge.process.pid)
        quotas[1].add(bare.pid)
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


def pi_sized(hub: HubHarness, seconds: float, share: float = 0.25) -> List[tuple]:
    """Rows for a Pi-sized host: bridge and bare node each under a quota of `share` cores."""
    bridge_quota, how = CpuQuota.create(share, 'artbot-bench-bridge')
    bare_quota, _ = CpuQuota.create(share, 'artbot-bench-bare') if bridge_quota else (None, how)
    if bridge_quota is None or bare_quota is None:
        return [(f'Pi-sized host ({share:g} core quota)', f'not measured: {how}', '-', '-')]
    rows = []
    try:
        for n, rate, what in ((0, 1.0, 'idle'), (10, 10.0, '10 topics at 10 Hz')):
            before = bridge_quota.throttled()
            (bcpu, brss), (rcpu, _) = telemetry(hub, n, rate, seconds,
                                                (bridge_quota, bare_quota))
            throttled = bridge_quota.throttled() - before
            rows.append((f'Pi-sized host, {what} ({how})',
                         f'{100 * bcpu / (100 * share):.1f} % of the quota, {brss:.1f} MB RSS, '
                         f'{throttled} throttled periods',
                         f'bare rclpy node: {100 * rcpu / (100 * share):.1f} % of the quota',
                         f'{bcpu / max(rcpu, 0.01):.2f}'))
    finally:
        bridge_quota.close()
        bare_quota.close()
    return rows


def hub_round_trips(hub: HubHarness, agent: str, count: int) -> List[float]:
    """
    Return ms from the hub sending a Trigger command to its command_response arriving.

    Timed on the hub's own loop (no thread hand-offs in the measurement): the same path for
    the bridge and for the bare WebSocket agent that answers at once.
    """
    import asyncio
    waiting: Dict[str, 'asyncio.Future'] = {}
    original = hub.hub._agent_message

    async def tap(agent_id: str, message: dict) -> None:
        future = waiting.pop(message.get('command_id'), None)
        if future is not None and message.get('type') == 'command_response':
            if message.get('success') is True:
                future.set_result(time.perf_counter())
            else:  # a refusal is fast and would pass for a round trip
                future.set_exception(RuntimeError(f'command refused: {message.get("data")}'))
        await original(agent_id, message)

    async def measure() -> List[float]:
        times = []
        ws = hub.hub.sockets[agent][0]
        for i in range(count + 20):
            command_id = str(uuid.uuid4())
            waiting[command_id] = asyncio.get_running_loop().create_future()
            started = time.perf_counter()
            await ws.send_str(json.dumps({'command_id': command_id, 'robot_id': agent,
                                          'type': 'robot_command', 'action': 'trigger',
                                          'parameters': {}}))
            try:
                answered = await asyncio.wait_for(waiting[command_id], 10)
            except asyncio.TimeoutError:
                raise RuntimeError(f'command {i} to {agent} got no answer in 10 s') from None
            if i >= 20:
                times.append((answered - started) * 1000)
        return times

    hub.hub._agent_message = tap
    try:
        return hub.loop.run(measure(), timeout=count * 10)
    finally:
        hub.hub._agent_message = original
        hub.hub.events.clear()


def import_costs() -> Tuple[float, List[Tuple[str, float]]]:
    """Return a bare node's RSS and what each part of the bridge adds at import (MB)."""
    peer = spawn('imports')
    try:
        lines = peer.communicate(timeout=60)[0].split('\n')
    finally:
        stop(peer)
    bare = float(lines[0].split()[1])
    parts = [(line.split(' ', 1)[1], float(line.split(' ', 1)[0])) for line in lines[1:] if line]
    return bare, parts


def trigger_params(hub: HubHarness, agent: str) -> Dict[str, object]:
    """Return bridge parameters with one Trigger command and no rate limit in the way."""
    return {'hub_url': hub.url, 'agent_id': agent, 'env_file': '', 'commands': ['trigger'],
            'trigger.service': '/bench/trigger', 'trigger.type': 'std_srvs/srv/Trigger',
            'max_commands_per_minute': 1_000_000}


def round_trips(hub: HubHarness, count: int) -> tuple:
    """Return p50/p99 ms of Trigger commands through the hub, and of the raw parts alone."""
    service = spawn('service')
    bridge = BridgeProcess(trigger_params(hub, 'bench-rtt'))
    try:
        hub.wait_connected('bench-rtt', timeout=30)
        bridge_ms = hub_round_trips(hub, 'bench-rtt', count)
    finally:
        bridge.close()
    try:
        raw_ms = service_round_trips(count)
    finally:
        stop(service)
    echo = spawn('echo_agent', hub.url, 'bench-echo')
    try:
        hub.wait_connected('bench-echo', timeout=30)
        echo_ms = hub_round_trips(hub, 'bench-echo', count)
    finally:
        stop(echo)
    return percentiles(bridge_ms), percentiles(raw_ms), percentiles(echo_ms)


def service_round_trips(count: int) -> List[float]:
    """Return round trips of a bare rclpy client calling the Trigger service."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_srvs.srv import Trigger
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('bench_client', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    client = node.create_client(Trigger, '/bench/trigger')
    client.wait_for_service(timeout_sec=10)
    times = []
    for i in range(count + 20):
        started = time.perf_counter()
        future = client.call_async(Trigger.Request())
        executor.spin_until_future_complete(future, timeout_sec=10)
        if i >= 20:
            times.append((time.perf_counter() - started) * 1000)
    executor.shutdown()
    node.destroy_node()
    context.try_shutdown()
    return times


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
        bare = spawn('bare', 0)
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


def spread(ratios: List[float]) -> str:
    """Return the median ratio of the rounds, with their range."""
    return f'{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})'


def plot(by_count: Dict[int, tuple], by_rate: Dict[float, tuple], path: Path) -> None:
    """Draw CPU against the number of status sources and against their rate."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(10, 4))
    for axes, table, label in ((left, by_count, 'status sources at 100 Hz each'),
                               (right, by_rate, 'rate of each of 10 status sources (Hz)')):
        keys = sorted(table)
        axes.plot(keys, [table[k][0] for k in keys], 'o-', label='bridge')
        axes.plot(keys, [table[k][1] for k in keys], 's--', label='bare rclpy node')
        axes.plot(keys, [table[k][0] - table[k][1] for k in keys], '^:',
                  label='bridge minus bare')
        axes.set_xlabel(label)
        axes.set_ylabel('CPU, % of one core')
        axes.grid(alpha=0.3)
        axes.legend()
    right.set_xscale('log')
    figure.suptitle('Coalesced telemetry: cost against sources and rate (robot_status every 1 s)')
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main() -> None:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--seconds', type=float, default=20.0, help='per CPU measurement')
    parser.add_argument('--commands', type=int, default=1000)
    parser.add_argument('--restarts', type=int, default=20)
    options = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 90 + 10))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    hub = HubHarness()
    hub.start()
    rows = []
    seconds = options.seconds
    try:
        by_count: Dict[int, tuple] = {}
        by_rate: Dict[float, tuple] = {}
        for n, rate in ((10, 100.0), (1, 100.0), (50, 100.0), (10, 10.0), (10, 500.0)):
            (bcpu, _), (rcpu, _) = telemetry(hub, n, rate, seconds if n == 10 else seconds / 2)
            if rate == 100.0:
                by_count[n] = (bcpu, rcpu)
            if n == 10:
                by_rate[rate] = (bcpu, rcpu)
            rows.append((f'telemetry CPU: {n} topics at {rate:g} Hz, robot_status every 1 s',
                         f'{bcpu:.1f} % of a core', f'bare rclpy node: {rcpu:.1f} %',
                         f'{bcpu / max(rcpu, 0.01):.2f}'))
        plot(by_count, by_rate, ROOT / 'bench' / 'scaling.png')
        for kind in ('String', 'BatteryState'):
            rounds = [streams.cpu_at(hub, kind, 1000.0, seconds / 2, usage)
                      for _ in range(ROUNDS)]
            ratios = [bridge / max(bare, 0.01) for bridge, bare, _ in rounds]
            bcpu, rcpu, delivered = rounds[ratios.index(statistics.median(ratios))]
            rows.append((f'stream CPU: one {kind} topic at 1000 Hz, every message to the hub '
                         f'({ROUNDS} rounds; goal: ratio at most 1.3)',
                         f'{bcpu:.1f} % of a core, {delivered:.0f} frames/s at the hub',
                         f'bare rclpy subscriber, same QoS: {rcpu:.1f} %', spread(ratios)))
        rounds = [streams.throughput(hub, seconds / 4, usage) for _ in range(ROUNDS)]
        ratios = [r[0] / min(r[1], r[2]) for r in rounds]
        bridge_rate, rclpy_rate, ws_rate, f50, f99, raw99, busy = \
            rounds[ratios.index(statistics.median(ratios))]
        rows.append((f'forwarding flat out: one topic, publisher as fast as it can ({ROUNDS} '
                     f'rounds; goal: p99 under 20 ms)',
                     f'{bridge_rate:.0f} messages/s at the hub, latency p50 {f50:.1f} ms, '
                     f'p99 {f99:.1f} ms (p99 of the rounds: '
                     f'{", ".join(f"{r[4]:.1f}" for r in rounds)}); CPU of the '
                     f'{os.cpu_count()} cores: bridge {busy[0]:.0f} %, publisher '
                     f'{busy[1]:.0f} %, hub {busy[2]:.0f} %',
                     f'rclpy receiving alone {rclpy_rate:.0f}/s, latency p99 {raw99:.1f} ms; '
                     f'websockets sending alone {ws_rate:.0f}/s', spread(ratios)))
        delivered, l50, l99 = streams.stream_at(hub, 1000.0, 10_000)
        rows.append(('1000 Hz stream, 10,000 messages (max_rate 1000)',
                     f'{delivered:.1f} % delivered, latency p50 {l50:.2f} ms, p99 {l99:.1f} ms',
                     '-', '-'))
        (icpu, irss), (bare_cpu, bare_rss) = telemetry(hub, 0, 1.0, seconds)
        rows.append(('footprint at idle', f'{icpu:.2f} % CPU, {irss:.1f} MB RSS',
                     f'bare rclpy node: {bare_cpu:.2f} %, {bare_rss:.1f} MB',
                     f'RSS {irss / bare_rss:.2f}'))
        bare, parts = import_costs()
        added = sum(mb for _, mb in parts)
        pydantic = sum(mb for name, mb in parts if 'pydantic' in name)
        rows.append(("footprint: what the bridge's imports add to a bare node's RSS, in its "
                     'order (a library two parts share counts with the first)',
                     ', '.join(f'{name} +{mb:.1f}' for name, mb in parts) + f' MB: +{added:.1f}',
                     f'bare rclpy node: {bare:.1f} MB',
                     f'pydantic {pydantic:.1f} MB ({100 * pydantic / added:.0f} %)'))
        rows += pi_sized(hub, seconds)
        rounds = [round_trips(hub, options.commands) for _ in range(ROUNDS)]
        ratios = [b[0] / (r[0] + e[0]) for b, r, e in rounds]
        (b50, b99), (r50, r99), (e50, e99) = rounds[ratios.index(statistics.median(ratios))]
        rows.append((f'command round trip: {options.commands} Trigger commands ({ROUNDS} rounds; '
                     'goal: ratio at most 2.5, p99 under 2 ms)',
                     f'p50 {b50:.2f} ms, p99 {b99:.2f} ms',
                     f'rclpy call p50 {r50:.2f} + WebSocket agent echo p50 {e50:.2f} ms; '
                     f'their p99 {r99:.2f} + {e99:.2f} ms',
                     spread(ratios)))
        delays = reconnects(hub, options.restarts)
        rows.append((f'reconnect: hub restarted {options.restarts} times',
                     f'p50 {statistics.median(delays):.0f} ms, max {max(delays):.0f} ms '
                     f'(cap: reconnect_max_delay 30 s)', '-', '-'))
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
                     table + ['', '![CPU against sources and rate](scaling.png)']) + '\n'
    print(text)
    (ROOT / 'bench' / 'RESULTS.md').write_text(text)


if __name__ == '__main__':
    main()
