"""
A link that is really slow stays up: 20 KB/s from the robot, about 100 commands a second.

The bridge runs in a network namespace of the test's own, joined to the hub's by a veth pair
whose robot end a token bucket (`tc qdisc ... tbf`) holds to 160 kbit/s: the kernel's own
queue, as on a congested Wi-Fi link, where a frame waits unacknowledged. Needs root and
iproute2 (`ip netns`, `tc`); skipped with the reason otherwise.
"""

import json
import os
import shutil
import subprocess
import time
import uuid

from harness import BridgeProcess, FAST, HubHarness, TriggerTarget, wait_for
import pytest

pytestmark = pytest.mark.fault
TAG = os.getpid() % 10000
NS, HUB_END, BRIDGE_END = f'artbot{TAG}', f'abh{TAG}', f'abb{TAG}'
NET = f'10.201.{TAG % 250}'
RATE = '160kbit'  # 20 KB/s
SENDING = 5.0  # seconds of commands
ANSWER = 600  # random characters, twice in each answer: 100 answers a second are about 6 x RATE


def ip(*args: str) -> None:
    """Run one iproute2 command; raise with its output if it fails."""
    done = subprocess.run(args, capture_output=True, text=True, timeout=10)
    if done.returncode:
        raise RuntimeError(f'{" ".join(args)}: {done.stderr.strip()}')


@pytest.fixture
def slow_namespace():
    """Yield (namespace, hub address) with the robot's side of the link at RATE."""
    if os.geteuid() != 0 or not (shutil.which('ip') and shutil.which('tc')):
        pytest.skip('needs root, ip and tc (iproute2) for a network namespace')
    try:
        ip('ip', 'netns', 'add', NS)
    except RuntimeError as err:
        pytest.skip(f'no network namespace here: {err}')
    try:
        ip('ip', 'link', 'add', HUB_END, 'type', 'veth', 'peer', 'name', BRIDGE_END)
        ip('ip', 'link', 'set', BRIDGE_END, 'netns', NS)
        ip('ip', 'addr', 'add', f'{NET}.1/30', 'dev', HUB_END)
        ip('ip', 'link', 'set', HUB_END, 'up')
        ip('ip', '-n', NS, 'addr', 'add', f'{NET}.2/30', 'dev', BRIDGE_END)
        ip('ip', '-n', NS, 'link', 'set', BRIDGE_END, 'up')
        ip('ip', '-n', NS, 'link', 'set', 'lo', 'up')
        ip('ip', 'netns', 'exec', NS, 'tc', 'qdisc', 'add', 'dev', BRIDGE_END, 'root', 'tbf',
           'rate', RATE, 'burst', '3200', 'latency', '2s')
        yield NS, f'{NET}.1'
    finally:
        subprocess.run(['ip', 'netns', 'del', NS], capture_output=True, timeout=10)
        subprocess.run(['ip', 'link', 'del', HUB_END], capture_output=True, timeout=10)


def test_a_slow_link_stays_up_answers_every_command_once_and_keeps_heartbeats(slow_namespace):
    namespace, address = slow_namespace
    inside = ('ip', 'netns', 'exec', namespace)
    target = TriggerTarget('/slow_link/answer', chars=ANSWER, prefix=inside)
    hub = HubHarness(host=address)
    hub.start()
    bridge = BridgeProcess({
        **FAST, 'hub_url': hub.url, 'agent_id': 'bot-slow', 'heartbeat_interval': 2.0,
        'monitor_interval': 2.0, 'ping_interval': 5.0, 'ping_timeout': 5.0,
        'max_commands_per_minute': 100000, 'commands': ['answer'],
        'answer.service': '/slow_link/answer', 'answer.type': 'std_srvs/srv/Trigger',
        'answer.concurrent': True, 'answer.timeout': 120.0}, prefix=inside)
    try:
        hub.wait_connected('bot-slow', timeout=30)
        sent = []
        started = time.monotonic()
        while time.monotonic() - started < SENDING:  # about 100 commands a second
            for _ in range(10):
                command_id = str(uuid.uuid4())
                sent.append(command_id)
                hub.send_command('bot-slow', {'command_id': command_id, 'action': 'answer'})
            time.sleep(0.1)
        wait_for(lambda: set(sent) <= set(hub.answer_counts('bot-slow')), 240,
                 'every answer', lambda: (len(hub.answer_counts('bot-slow')), len(sent),
                                          bridge.output()[-1500:]))
        counts = hub.answer_counts('bot-slow')
        connects = hub.events('connect', agent_id='bot-slow')
        done = time.monotonic()
        beats = [e['t'] for e in hub.events('message', agent_id='bot-slow', type='heartbeat')
                 if started <= e['t'] <= done]
        gaps = [later - earlier for earlier, later in zip(beats, beats[1:])]
        size = sum(len(json.dumps(m)) for m in hub.messages('bot-slow', 'command_response'))
        print(f'\nslow link ({RATE}): {len(sent)} commands in {SENDING:.0f} s, {len(counts)} '
              f'answered ({size / 2 ** 20:.1f} MiB) in {done - started:.0f} s, '
              f'{sum(counts.values()) - len(counts)} twice, {len(connects) - 1} redials; '
              f'heartbeat gaps {min(gaps):.1f}-{max(gaps):.1f} s (interval 2 s)')
        assert len(connects) == 1, bridge.output()[-2000:]
        assert all(count == 1 for count in counts.values())
        assert max(gaps) <= 2.0 + 1.0, [round(b - started, 2) for b in beats]
    finally:
        bridge.close()
        hub.close()
        target.kill()
