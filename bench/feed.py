"""
What the echo proof costs in a fleet: the hub's dashboard feed, 10 and 100 robots, `make feed`.

The echo proof has each bridge read the hub's `/ws/dashboard` feed, which carries every
robot's command_response, robot_status and log_entry to every feed client. In a fleet where
every robot runs the bridge, the hub sends each robot_status to every robot: its sends grow
with the square of the fleet. This bench measures that on the local hub, run as a process of
its own: one real bridge, and N - 1 simulated robots (one asyncio process) that register,
send heartbeat and robot_status as the bridge does, and hold a feed of their own when the
proof is `echo`. For each fleet size it runs both proofs, `echo` and `pong` (no feed), for
`--seconds`, and prints per robot: the bridge's CPU, the bytes a feed brings each robot, and
the hub's CPU, with each echo figure's ratio to its pong figure of the same run.
"""

import argparse
import json
from pathlib import Path
import subprocess
import sys
import threading
import time
from typing import Dict, List, Tuple

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'test')]

from harness import BridgeProcess, FAST, free_port, wait_for  # noqa: E402, I100, I202

SIMULATED = """
import asyncio, json, sys, time, urllib.request
import websockets
url, first, count, interval, feed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \\
    float(sys.argv[4]), sys.argv[5] == 'echo'
received = [0]

def register(agent):
    body = json.dumps({'agent_id': agent, 'hostname': agent, 'ip_address': '127.0.0.1',
                       'system_info': {}, 'robot_info': {}}).encode()
    request = urllib.request.Request(url + '/api/agents/register', body,
                                     {'Content-Type': 'application/json'})
    urllib.request.urlopen(request, timeout=10).read()

async def read_feed(counted):
    async with websockets.connect(url.replace('http', 'ws', 1) + '/ws/dashboard',
                                  max_size=None) as ws:
        async for frame in ws:
            if counted:
                received[0] += len(frame)

async def robot(n):
    agent = f'sim-{n}'
    register(agent)
    ws_url = url.replace('http', 'ws', 1) + f'/ws/agent/{agent}'
    async with websockets.connect(ws_url) as ws:
        seq = n * 10 ** 9
        while True:
            seq += 1
            now = time.time()
            await ws.send(json.dumps({'type': 'heartbeat', 'agent_id': agent, 'timestamp': '',
                                      'data': {'cpu_percent': 10.0, 'memory_percent': 20.0,
                                               'uptime': now}}))
            await ws.send(json.dumps({'type': 'robot_status', 'agent_id': agent,
                                      'timestamp': '', 'data': {
                                          'bridge_seq': seq, 'status': 'online',
                                          'battery_level': 80.0, 'cpu_usage': 10.0,
                                          'uptime_seconds': now, 'location': 'lab',
                                          'workspace_status': 'stopped'}}))
            await asyncio.sleep(interval)

async def main():
    tasks = [asyncio.ensure_future(robot(n)) for n in range(first, first + count)]
    if feed:  # each robot runs the bridge: a feed each; the first one's bytes are counted
        tasks += [asyncio.ensure_future(read_feed(n == first))
                  for n in range(first, first + count)]
    print('ready', flush=True)
    start = time.monotonic()
    while True:
        await asyncio.sleep(1.0)
        print(json.dumps({'feed_bytes': received[0], 't': time.monotonic() - start}),
              flush=True)

asyncio.run(main())
"""


def cpu(process: psutil.Process) -> float:
    """Return the process's CPU seconds so far (user and system)."""
    times = process.cpu_times()
    return times.user + times.system


def run(fleet: int, proof: str, seconds: float, interval: float) -> Dict[str, float]:
    """Run one fleet with one proof; return the per-robot figures."""
    port = free_port()
    hub = subprocess.Popen([sys.executable, '-m', 'artbot_bridge.devhub', '--port', str(port)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           cwd=ROOT)
    hub.stdout.readline()  # listening
    url = f'http://127.0.0.1:{port}'
    sims = subprocess.Popen([sys.executable, '-c', SIMULATED, url, '1', str(fleet - 1),
                             str(interval), proof], stdout=subprocess.PIPE, text=True)
    bridge = None
    latest = {'feed_bytes': 0, 't': 0.0}  # the simulated robots' newest line

    def follow() -> None:
        for line in sims.stdout:
            if line.startswith('{'):
                latest.update(json.loads(line))
    try:
        assert sims.stdout.readline().strip() == 'ready'
        threading.Thread(target=follow, daemon=True).start()
        bridge = BridgeProcess({**FAST, 'hub_url': url, 'agent_id': 'sim-0',
                                'delivery_proof': proof, 'heartbeat_interval': interval,
                                'monitor_interval': interval, 'hub_log_level': 'none'})
        wait_for(lambda: 'connected to' in bridge.output(), 30, 'the bridge connected')
        time.sleep(2.0)  # the fleet settles
        processes = {'bridge': psutil.Process(bridge.process.pid),
                     'hub': psutil.Process(hub.pid)}
        before = {name: cpu(p) for name, p in processes.items()}
        first = dict(latest)
        started = time.monotonic()
        time.sleep(seconds)
        last = dict(latest)
        took = time.monotonic() - started
        used = {name: (cpu(p) - before[name]) / took for name, p in processes.items()}
        feed_rate = (last['feed_bytes'] - first['feed_bytes']) / max(1e-9, last['t'] - first['t'])
        assert 'hub link down' not in bridge.output(), bridge.output()[-1000:]
        return {'bridge_cpu': used['bridge'] * 100, 'feed_kb_s': feed_rate / 1000,
                'hub_cpu': used['hub'] * 100}
    finally:
        if bridge is not None:
            bridge.close()
        for process in (sims, hub):
            process.terminate()
            process.wait(10)


def ratio(echo: float, pong: float) -> str:
    """Return echo / pong as a ratio, or a note when pong is too small to divide by."""
    return f'{echo / pong:.2f}x' if pong >= 0.05 else 'pong under 0.05 %'


def main() -> int:
    """Run the fleets; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--fleets', type=int, nargs='+', default=[10, 100])
    parser.add_argument('--seconds', type=float, default=20.0)
    parser.add_argument('--interval', type=float, default=10.0,
                        help="each robot's heartbeat and robot_status interval (the default)")
    args = parser.parse_args()
    rows: List[Tuple[int, Dict[str, float], Dict[str, float]]] = []
    for fleet in args.fleets:
        echo = run(fleet, 'echo', args.seconds, args.interval)
        pong = run(fleet, 'pong', args.seconds, args.interval)
        rows.append((fleet, echo, pong))
    print(f'\nfeed cost: robot_status and heartbeat every {args.interval:g} s per robot, '
          f'{args.seconds:g} s measured per run; CPU in % of one core\n')
    print('| robots | proof | bridge CPU | feed into each robot | hub CPU |')
    print('| --- | --- | --- | --- | --- |')
    for fleet, echo, pong in rows:
        print(f'| {fleet} | pong | {pong["bridge_cpu"]:.2f} % | none | {pong["hub_cpu"]:.2f} % |')
        print(f'| {fleet} | echo | {echo["bridge_cpu"]:.2f} % '
              f'({ratio(echo["bridge_cpu"], pong["bridge_cpu"])}) | '
              f'{echo["feed_kb_s"]:.1f} KB/s | {echo["hub_cpu"]:.2f} % '
              f'({ratio(echo["hub_cpu"], pong["hub_cpu"])}) |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
