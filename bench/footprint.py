"""Idle footprint of the bridge: CPU and RSS with N status sources published at R Hz each.

Usage: python bench/footprint.py [--sources 3] [--rate 50] [--seconds 60]
Starts the local hub (in this process), a publisher process and the real bridge process,
then samples the bridge with psutil and prints a table.
"""

import argparse
import os
from pathlib import Path
import subprocess
import sys
import time

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'test')]

from harness import BridgeProcess, HubHarness, wait_for  # noqa: E402

PUBLISHER = '''
import sys, rclpy
from sensor_msgs.msg import BatteryState
n, rate = int(sys.argv[1]), float(sys.argv[2])
rclpy.init()
node = rclpy.create_node('footprint_publisher')
pubs = [node.create_publisher(BatteryState, f'/footprint/battery_{i}', 10) for i in range(n)]
msg = BatteryState(percentage=0.5, voltage=15.0)
node.create_timer(1.0 / rate, lambda: [p.publish(msg) for p in pubs])
try:
    rclpy.spin(node)
except BaseException:
    pass
'''


def main() -> None:
    """Run the measurement and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--sources', type=int, default=3)
    parser.add_argument('--rate', type=float, default=50.0)
    parser.add_argument('--seconds', type=float, default=60.0)
    options = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 90 + 10))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    hub = HubHarness()
    hub.start()
    publisher = subprocess.Popen([sys.executable, '-c', PUBLISHER, str(options.sources),
                                  str(options.rate)])
    names = [f'b{i}' for i in range(options.sources)]
    params = {'hub_url': hub.url, 'agent_id': 'footprint', 'status_sources': names,
              'env_file': ''}
    for i, name in enumerate(names):
        params[f'{name}.topic'] = f'/footprint/battery_{i}'
        params[f'{name}.type'] = 'sensor_msgs/msg/BatteryState'
    bridge = BridgeProcess(params)
    try:
        hub.wait_connected('footprint', timeout=30)
        wait_for(lambda: any(m['data'].get('sources', {}).get('b0', {}).get('count', 0) > 10
                             for m in hub.messages('footprint', 'robot_status')), 60,
                 'messages flowing')
        process = psutil.Process(bridge.process.pid)
        process.cpu_percent(None)
        before = process.cpu_times()
        started = time.monotonic()
        rss = []
        while time.monotonic() - started < options.seconds:
            time.sleep(1.0)
            rss.append(process.memory_info().rss / 2 ** 20)
        after = process.cpu_times()
        elapsed = time.monotonic() - started
        cpu = 100.0 * ((after.user - before.user) + (after.system - before.system)) / elapsed
        status = hub.messages('footprint', 'robot_status')[-1]['data']['sources']['b0']
        print(f'| sources | rate Hz | seconds | CPU % of one core | RSS MB (mean / max) |')
        print('| --- | --- | --- | --- | --- |')
        print(f'| {options.sources} | {options.rate:g} | {elapsed:.0f} | {cpu:.2f} | '
              f'{sum(rss) / len(rss):.1f} / {max(rss):.1f} |')
        print(f'messages received on b0: {status["count"]}')
    finally:
        bridge.close()
        publisher.terminate()
        publisher.wait(10)
        hub.close()


if __name__ == '__main__':
    main()
