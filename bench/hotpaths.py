"""
Where the bridge spends its CPU on the hot paths: `make profile` writes bench/PROFILE.md.

py-spy samples the real bridge process while it forwards a stream as fast as the topic comes
and while it answers Trigger commands back to back. Waiting (epoll, rcl wait sets, condition
variables) is left out: the table is busy time only, by function, with the thread it ran on.
"""

from collections import Counter
import os
from pathlib import Path
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / 'test')]

from harness import BridgeProcess, HubHarness  # noqa: E402, I100
from peers import spawn, stop  # noqa: E402
import run  # noqa: E402
import streams  # noqa: E402

IDLE = ('select (selectors.py', '(rclpy/executors.py:796)', 'wait (threading.py',
        'Event.wait', 'Condition.wait')
PY_SPY = Path(sys.executable).parent / 'py-spy'


def sample(pid: int, work: Callable[[], None], out: Path) -> None:
    """Run `work` while py-spy samples `pid` (raw collapsed stacks into `out`)."""
    spy = subprocess.Popen([str(PY_SPY), 'record', '--pid', str(pid), '--rate', '500',
                            '--format', 'raw', '--output', str(out), '--threads', '--nonblocking'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    try:
        work()
    finally:
        spy.send_signal(signal.SIGINT)
        spy.wait(60)


# Where a function's own time belongs, by the file it is in (first match wins). Other
# standard-library frames (contextlib, threading, random, ...) count for their caller's area.
# The spin loop's own line is the EventsExecutor's C++ (its waits are idle and left out).
AREAS = (('artbot_bridge/ros/spin.py', 'rclpy executor and entities'),
         ('artbot_bridge/', 'the bridge'), ('rclpy/', 'rclpy executor and entities'),
         ('websockets/', 'websockets'), ('asyncio/', 'asyncio'), ('selectors', 'asyncio'),
         ('json/', 'json'), ('msg/_', 'generated messages'))


def area(frames: List[str]) -> str:
    """Return the area of the innermost frame that belongs to one."""
    for frame in reversed(frames):
        for mark, name in AREAS:
            if mark in frame:
                return name
    return 'other'


def busy_tables(raw: Path, top: int = 20) -> Tuple[List[str], List[str], int]:
    """Return markdown rows by area and by function (self time), and the busy sample count."""
    own: Counter = Counter()
    areas: Counter = Counter()
    busy = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(' ')
        frames = stack.split(';')
        if any(mark in frames[-1] for mark in IDLE):
            continue
        busy += int(count)
        own[(frames[0].split(': ')[-1], frames[-1])] += int(count)
        areas[area(frames)] += int(count)
    by_area = [f'| {100.0 * n / busy:.1f} % | {area} |' for area, n in areas.most_common()]
    by_function = [f'| {100.0 * n / busy:.1f} % | {thread} | `{frame}` |'
                   for (thread, frame), n in own.most_common(top)]
    return by_area, by_function, busy


def main() -> None:
    """Profile the stream path and the command path; write bench/PROFILE.md."""
    os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 90 + 10))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    hub = HubHarness()
    hub.start()
    sections = []
    with tempfile.TemporaryDirectory() as scratch:
        try:
            flood = spawn('flood', streams.TOPIC)
            with streams.StreamCounter(hub, 'flood') as frames:
                bridge = BridgeProcess(streams.stream_params(hub, 'profile-flood', 100_000.0))
                try:
                    rate: List[float] = []
                    sample(bridge.process.pid, lambda: rate.append(frames.rate(2.0, 10.0)[0]),
                           Path(scratch, 'stream.raw'))
                finally:
                    bridge.close()
                    stop(flood)
            sections.append((f'Stream forwarding, {rate[0]:.0f} messages/s at the hub',
                             *busy_tables(Path(scratch, 'stream.raw'))))

            service = spawn('service')
            bridge = BridgeProcess(run.trigger_params(hub, 'profile-rtt'))
            try:
                hub.wait_connected('profile-rtt', timeout=30)
                times: List[float] = []
                sample(bridge.process.pid,
                       lambda: times.extend(run.hub_round_trips(hub, 'profile-rtt', 3000)),
                       Path(scratch, 'rtt.raw'))
            finally:
                bridge.close()
                stop(service)
            p50, p99 = run.percentiles(times)
            sections.append((f'3,000 Trigger commands, p50 {p50:.2f} ms, p99 {p99:.2f} ms',
                             *busy_tables(Path(scratch, 'rtt.raw'))))
        finally:
            hub.close()
    text = ['# Profiles of the hot paths', '', f'Machine: {run.machine()}', '',
            f'Run: {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}, py-spy at 500 Hz, '
            'busy samples only (waiting left out), self time by function.', '']
    for title, by_area, by_function, busy in sections:
        text += [f'## {title}', '', f'{busy} busy samples.', '', '| share | area |',
                 '| --- | --- |'] + by_area + [
                 '', '| share | thread | function (file:line) |', '| --- | --- | --- |'] + \
            by_function + ['']
    (ROOT / 'bench' / 'PROFILE.md').write_text('\n'.join(text))
    print('\n'.join(text))


if __name__ == '__main__':
    main()
