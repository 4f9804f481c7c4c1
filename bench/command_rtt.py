"""
Command round trip: N Trigger commands through the local hub, one at a time.

Usage: python bench/command_rtt.py [--count 1000]
Measured from the hub sending the command to the hub receiving its command_response, with the
real bridge process and a Trigger service in its own process.
"""

import argparse
import os
from pathlib import Path
import statistics
import subprocess
import sys
import threading
import time
import uuid

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'test')]

from harness import BridgeProcess, HubHarness  # noqa: E402

SERVICE = '''
import rclpy
from std_srvs.srv import Trigger
rclpy.init()
node = rclpy.create_node('rtt_service')
def answer(request, response):
    response.success, response.message = True, 'ok'
    return response
node.create_service(Trigger, '/rtt/trigger', answer)
try:
    rclpy.spin(node)
except BaseException:
    pass
'''


def main() -> None:
    """Run the measurement and print p50 / p99."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--count', type=int, default=1000)
    options = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 90 + 10))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    hub = HubHarness()
    hub.start()
    service = subprocess.Popen([sys.executable, '-c', SERVICE])
    bridge = BridgeProcess({'hub_url': hub.url, 'agent_id': 'rtt', 'env_file': '',
                            'commands': ['trigger'], 'trigger.service': '/rtt/trigger',
                            'trigger.type': 'std_srvs/srv/Trigger'})
    answered = threading.Event()
    waiting = {}

    def on_event(event):
        message = event.get('message') or {}
        if message.get('type') == 'command_response' and \
                message.get('command_id') == waiting.get('id'):
            waiting['t'] = time.perf_counter()
            answered.set()

    try:
        hub.wait_connected('rtt', timeout=30)
        original = hub.hub._event

        def tap(kind, **fields):
            original(kind, **fields)
            on_event(fields)
        hub.hub._event = tap
        samples = []
        for i in range(options.count + 20):
            answered.clear()
            waiting['id'] = str(uuid.uuid4())
            started = time.perf_counter()
            hub.send_command('rtt', {'command_id': waiting['id'], 'action': 'trigger',
                                     'parameters': {}})
            if not answered.wait(10):
                raise SystemExit(f'command {i} got no answer')
            if i >= 20:  # the first calls warm up discovery and caches
                samples.append((waiting['t'] - started) * 1000)
        samples.sort()
        p50 = statistics.median(samples)
        p99 = samples[int(len(samples) * 0.99) - 1]
        print('| commands | p50 ms | p99 ms | max ms |')
        print('| --- | --- | --- | --- |')
        print(f'| {len(samples)} | {p50:.2f} | {p99:.2f} | {samples[-1]:.2f} |')
    finally:
        bridge.close()
        service.terminate()
        service.wait(10)
        hub.close()


if __name__ == '__main__':
    main()
