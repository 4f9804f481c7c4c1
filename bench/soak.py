"""
The soak: the real bridge under a steady mix of good and bad frames for minutes, `make soak`.

Every frame the local hub sends that can be answered carries a fresh command id, and every
such id must come back exactly once: pings and status requests, a Trigger service call,
unknown actions, wrong types, binary frames. Frames no answer can carry (over-long ids, no
id, not JSON, not an object) are counted and never answered. Meanwhile four status sources
publish at 50 Hz. Prints one line of figures; exits 1 when an answer is missing or repeated,
or when the bridge's RSS grew more than the bound.
"""

import argparse
import itertools
import json
import os
from pathlib import Path
import sys
import time
from typing import List
import uuid

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'test')]

from harness import BridgeProcess, HubHarness, wait_for  # noqa: E402, I100
from peers import spawn, stop  # noqa: E402

RSS_GROWTH_MB = 10.0


def frames(agent: str) -> 'itertools.cycle':
    """Yield (command id or None, frame to send) in a fixed mix."""
    def command(action: str, **extra: object) -> tuple:
        command_id = str(uuid.uuid4())
        return command_id, json.dumps({'command_id': command_id, 'robot_id': agent,
                                       'type': 'robot_command', 'action': action,
                                       'parameters': {}, **extra})

    def long_id() -> tuple:  # refused and counted, never remembered: no answer
        command_id = 'L' + uuid.uuid4().hex * 10
        return None, json.dumps({'command_id': command_id, 'action': 'ping', 'parameters': {}})

    def wrong_type() -> tuple:
        command_id = str(uuid.uuid4())
        return command_id, json.dumps({'command_id': command_id, 'action': 'ping',
                                       'parameters': 'not an object'})

    def binary() -> tuple:
        command_id, frame = command('ping')
        return command_id, frame.encode()

    makers = [lambda: command('ping'), lambda: command('status'), lambda: command('trigger'),
              lambda: command('trigger'), lambda: command('no_such_action'), wrong_type,
              long_id, binary, lambda: (None, '{not json'), lambda: (None, '[1, 2, 3]')]
    return itertools.cycle(makers)


def main() -> int:
    """Run the soak and print its figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--seconds', type=float, default=300.0)
    parser.add_argument('--rate', type=float, default=150.0, help='frames per second')
    options = parser.parse_args()
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 90 + 10))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    hub = HubHarness()
    hub.start()
    agent = 'soak'
    publisher = spawn('publisher', 4, 50.0)
    service = spawn('service')
    bridge = BridgeProcess({
        'hub_url': hub.url, 'agent_id': agent, 'env_file': '', 'commands': ['trigger'],
        'trigger.service': '/bench/trigger', 'trigger.type': 'std_srvs/srv/Trigger',
        'max_commands_per_minute': 1_000_000, 'status_sources': ['b0', 'b1', 'b2', 'b3'],
        **{f'b{i}.{key}': value for i in range(4) for key, value in
           (('topic', f'/bench/battery_{i}'), ('type', 'sensor_msgs/msg/BatteryState'))}})
    expected: List[str] = []
    unanswerable = 0
    try:
        hub.wait_connected(agent, timeout=30)
        process = psutil.Process(bridge.process.pid)
        time.sleep(2.0)
        rss_start = process.memory_info().rss / 2 ** 20
        mix = frames(agent)
        started = time.monotonic()
        sent = 0
        while time.monotonic() - started < options.seconds:
            command_id, frame = next(mix)()
            hub.send_raw(agent, frame)
            sent += 1
            if command_id is None:
                unanswerable += 1
            else:
                expected.append(command_id)
            time.sleep(max(0.0, started + sent / options.rate - time.monotonic()))
        wait_for(lambda: set(expected) <= set(hub.answer_counts(agent)), 60,
                 'an answer to every command id',
                 lambda: len(set(expected) - set(hub.answer_counts(agent))))
        rss_end = process.memory_info().rss / 2 ** 20
        counts = hub.answer_counts(agent)
        repeated = sorted(i for i in expected if counts.get(i, 0) != 1)
        print(f'soak: {sent} frames in {options.seconds:.0f} s ({len(expected)} with an id, '
              f'{unanswerable} without), {len(expected) - len(repeated)} answered exactly '
              f'once, {len(repeated)} not; RSS {rss_start:.1f} -> {rss_end:.1f} MB '
              f'({rss_end - rss_start:+.1f}); bridge alive: {bridge.alive()}')
        return 0 if not repeated and rss_end - rss_start < RSS_GROWTH_MB and bridge.alive() \
            else 1
    finally:
        bridge.close()
        stop(service)
        stop(publisher)
        hub.close()


if __name__ == '__main__':
    sys.exit(main())
