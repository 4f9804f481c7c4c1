"""
The processes the bridge is measured against: `python bench/peers.py <role> [args]`.

Each role is the plainest program that does one part of the bridge's work alone (a bare
rclpy node, a WebSocket agent that answers at once, ...) or feeds it (publishers, a service).
`spawn` starts one; `stop` ends it.
"""

import asyncio
import json
from pathlib import Path
import subprocess
import sys
import time
from typing import Callable, Dict
import urllib.request

# History of the publishers. A bare subscriber takes the bridge's stream QoS depth as an
# argument (`streams.STREAM_DEPTH`), so that it does exactly the bridge's work.
PUBLISHER_DEPTH = 100


def spawn(role: str, *args: object) -> subprocess.Popen:
    """Start `role` with `args`; its stdout is a pipe of text lines."""
    return subprocess.Popen([sys.executable, str(Path(__file__)), role, *map(str, args)],
                            stdout=subprocess.PIPE, text=True)


def stop(process: subprocess.Popen) -> None:
    """Terminate a peer and wait for it."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def _node(name: str):  # noqa: ANN202 - rclpy is imported only in the peer's process
    import rclpy
    rclpy.init()
    return rclpy.create_node(name)


def _spin(node) -> None:  # noqa: ANN001
    import rclpy
    try:
        rclpy.spin(node)
    except BaseException:  # noqa: B902 - SIGTERM / SIGINT end the peer quietly
        pass


def publisher(n: str, rate: str) -> None:
    """Publish a BatteryState on /bench/battery_<i>, i < n, at `rate` Hz each."""
    from sensor_msgs.msg import BatteryState
    node = _node('bench_publisher')
    pubs = [node.create_publisher(BatteryState, f'/bench/battery_{i}', 10)
            for i in range(int(n))]
    msg = BatteryState(percentage=0.5, voltage=15.0)
    node.create_timer(1.0 / float(rate), lambda: [p.publish(msg) for p in pubs])
    _spin(node)


def bare(n: str) -> None:
    """Subscribe to the n battery topics, keeping the latest only (as the bridge does)."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import BatteryState
    node = _node('bench_bare')
    latest: Dict[int, object] = {}
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
    for i in range(int(n)):
        node.create_subscription(BatteryState, f'/bench/battery_{i}',
                                 lambda m, i=i: latest.__setitem__(i, m), qos)

    def first_spin() -> None:
        print('spinning', flush=True)
        timer.cancel()
    timer = node.create_timer(0.001, first_spin)
    _spin(node)


def service() -> None:
    """Answer std_srvs/Trigger on /bench/trigger at once."""
    from std_srvs.srv import Trigger
    node = _node('bench_service')

    def answer(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        response.success, response.message = True, 'ok'
        return response
    node.create_service(Trigger, '/bench/trigger', answer)
    _spin(node)


def _stamped(seq: int):  # noqa: ANN202
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header
    now = time.time()
    return Header(frame_id=str(seq), stamp=Time(sec=int(now), nanosec=int(now % 1 * 1e9)))


def flood(topic: str) -> None:
    """Publish stamped Headers on `topic` as fast as one core allows."""
    from std_msgs.msg import Header
    node = _node('bench_flood')
    pub = node.create_publisher(Header, topic, PUBLISHER_DEPTH)
    while pub.get_subscription_count() == 0:
        time.sleep(0.01)
    seq = 0
    try:
        while True:
            seq += 1
            pub.publish(_stamped(seq))
    except BaseException:  # noqa: B902
        pass


def ticks(topic: str, rate: str, count: str) -> None:
    """Publish `count` stamped Headers at `rate` Hz once subscribed; print how many went out."""
    from std_msgs.msg import Header
    node = _node('bench_ticks')
    pub = node.create_publisher(Header, topic, PUBLISHER_DEPTH)
    while pub.get_subscription_count() == 0:
        time.sleep(0.01)
    time.sleep(1.0)  # discovery settles both ways before the first tick
    sent = [0]

    def tick() -> None:
        if sent[0] < int(count):
            sent[0] += 1
            pub.publish(_stamped(sent[0]))
        else:
            timer.cancel()
            print(f'published {sent[0]}', flush=True)
    timer = node.create_timer(1.0 / float(rate), tick)
    _spin(node)


def _message(kind: str):  # noqa: ANN202
    """Return the message a 1 kHz row sends: a 64-byte String or a full BatteryState."""
    if kind == 'String':
        from std_msgs.msg import String
        return String, String(data='x' * 64)
    from sensor_msgs.msg import BatteryState
    return BatteryState, BatteryState(percentage=0.5, voltage=15.0, cell_voltage=[3.7] * 4,
                                      serial_number='bench-0001')


def pulse(topic: str, kind: str, rate: str) -> None:
    """Publish a String or BatteryState on `topic` at `rate` Hz, from a timer."""
    msg_type, msg = _message(kind)
    node = _node('bench_pulse')
    pub = node.create_publisher(msg_type, topic, PUBLISHER_DEPTH)
    node.create_timer(1.0 / float(rate), lambda: pub.publish(msg))
    _spin(node)


def sink(topic: str, kind: str, depth: str) -> None:
    """Receive `topic` with the bridge's stream QoS and do nothing: the raw limit of a row."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    msg_type, _ = _message(kind)
    node = _node('bench_sink')
    node.create_subscription(msg_type, topic, lambda m: None,
                             QoSProfile(depth=int(depth),
                                        reliability=ReliabilityPolicy.RELIABLE))
    _spin(node)


def count(topic: str, depth: str, warmup: str, seconds: str) -> None:
    """
    Receive `topic` as the bridge's stream subscription does.

    Prints messages per second, then the latency p99 in ms from each message's stamp.
    """
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Header
    node = _node('bench_count')
    received = [0]
    latencies = []

    def take(msg: Header) -> None:
        received[0] += 1
        latencies.append(time.time() - msg.stamp.sec - msg.stamp.nanosec * 1e-9)
    node.create_subscription(Header, topic, take,
                             QoSProfile(depth=int(depth),
                                        reliability=ReliabilityPolicy.RELIABLE))
    while received[0] == 0:
        rclpy.spin_once(node, timeout_sec=0.1)
    started = time.monotonic()
    while time.monotonic() - started < float(warmup):
        rclpy.spin_once(node, timeout_sec=0.1)
    before, started = received[0], time.monotonic()
    del latencies[:]
    while time.monotonic() - started < float(seconds):
        rclpy.spin_once(node, timeout_sec=0.1)
    print(f'{(received[0] - before) / (time.monotonic() - started):.1f}', flush=True)
    ordered = sorted(latencies) or [float('nan')]
    print(f'{ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000:.2f}', flush=True)


def _register(url: str, agent: str) -> None:
    body = json.dumps({'agent_id': agent, 'hostname': agent, 'ip_address': '127.0.0.1',
                       'system_info': {}}).encode()
    urllib.request.urlopen(urllib.request.Request(
        url + '/api/agents/register', body, {'Content-Type': 'application/json'}))


def echo_agent(url: str, agent: str) -> None:
    """Register, connect, and answer every command at once: the WebSocket side alone."""
    import websockets
    _register(url, agent)

    async def main() -> None:
        async with websockets.connect(f'{url.replace("http", "ws")}/ws/agent/{agent}') as ws:
            async for frame in ws:
                command = json.loads(frame)
                await ws.send(json.dumps({
                    'type': 'command_response', 'agent_id': agent,
                    'command_id': command['command_id'], 'success': True,
                    'data': {'message': 'ok'}}))
    asyncio.run(main())


def ws_flood(url: str, agent: str) -> None:
    """Register, connect, and send stream frames as fast as websockets can: sending alone."""
    import websockets
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from artbot_bridge.core.protocol import encode
    _register(url, agent)

    async def main() -> None:
        async with websockets.connect(f'{url.replace("http", "ws")}/ws/agent/{agent}') as ws:
            seq = 0
            while True:
                seq += 1
                now = time.time()
                data = {'stamp': {'sec': int(now), 'nanosec': int(now % 1 * 1e9)},
                        'frame_id': str(seq)}
                await ws.send(encode('robot_status', agent, {'flood': {'seq': seq,
                                                                       'data': data}}))
    asyncio.run(main())


def _rss_mb() -> float:
    with open('/proc/self/status', encoding='ascii') as status:
        kib = next(line.split()[1] for line in status if line.startswith('VmRSS:'))
    return int(kib) / 1024


def imports() -> None:
    """
    Start as the bare node does, then import what the bridge loads, part by part.

    Prints the bare node's RSS, then one line per part: its name and the MB it added on top
    of the parts before it (the bridge's own order, so a library shared by two is counted
    once, with the first).
    """
    import importlib
    import rclpy
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    node = _node('bench_imports')
    rclpy.spin_once(node, timeout_sec=0.1)
    before = _rss_mb()
    print(f'bare {before:.1f}', flush=True)
    parts = (('websockets', ['websockets.asyncio.client']),  # asyncio: rclpy loads it
             ('psutil', ['psutil']),
             ('pydantic', ['pydantic']),
             ("the bridge's pydantic models", ['artbot_bridge.core.settings',
                                               'artbot_bridge.core.protocol']),
             ('the rest of the bridge', ['artbot_bridge.main']))
    for name, modules in parts:
        for module in modules:
            importlib.import_module(module)
        now = _rss_mb()
        print(f'{now - before:.2f} {name}', flush=True)
        before = now


ROLES: Dict[str, Callable[..., None]] = {
    'publisher': publisher, 'bare': bare, 'service': service, 'flood': flood, 'ticks': ticks,
    'count': count, 'echo_agent': echo_agent, 'ws_flood': ws_flood, 'pulse': pulse,
    'sink': sink, 'imports': imports}

if __name__ == '__main__':
    ROLES[sys.argv[1]](*sys.argv[2:])
