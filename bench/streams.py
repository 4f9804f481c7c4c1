"""Forwarding throughput and stream latency: one topic, every message to the hub."""

import gc
import math
import os
import statistics
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from artbot_bridge.core.settings import Settings
from artbot_bridge.ros.stream import qos
from harness import BridgeProcess, HubHarness, wait_for
from peers import spawn, stop

TOPIC = '/bench/stream'
# The bridge's stream subscription depth at the default bound: a bare subscriber's too.
STREAM_DEPTH = qos(Settings.model_fields['stream_max_age'].default).depth


class StreamCounter:
    """
    Count the stream frames the hub receives, with their latency from the ROS stamp.

    Installed in place of the hub's message handler for the run: stream frames are counted
    and dropped (the hub's bookkeeping of every frame would be measured, not the bridge).
    """

    def __init__(self, hub: HubHarness, key: str) -> None:
        self.hub = hub
        self.key = key
        self.frames = 0
        self.latencies: List[float] = []
        self.ids: set = set()
        self.keep = False  # record latency and ids, not only count
        self._original = hub.hub._agent_message

    async def _tap(self, agent_id: str, message: Dict[str, Any]) -> None:
        data = message.get('data')
        entry = data.get(self.key) if isinstance(data, dict) else None
        if message.get('type') != 'robot_status' or not isinstance(entry, dict):
            await self._original(agent_id, message)
            return
        self.frames += 1
        if self.keep:
            stamp = entry['data']['stamp']
            self.latencies.append(
                (time.time() - stamp['sec'] - stamp['nanosec'] * 1e-9) * 1000)
            self.ids.add(entry['data']['frame_id'])

    def __enter__(self) -> 'StreamCounter':
        self.hub.hub._agent_message = self._tap
        return self

    def __exit__(self, *exc: Any) -> None:
        self.hub.hub._agent_message = self._original

    def rate(self, warmup: float, seconds: float, usage: Optional[Any] = None,
             pids: Sequence[int] = ()) -> Tuple[float, List[float]]:
        """
        Wait for frames, then `warmup`; return frames per second over `seconds`.

        With `usage` (run.usage), also the CPU of each of `pids` over the same seconds, in %
        of one core.
        """
        wait_for(lambda: self.frames > 0, 30, f'{self.key} frames at the hub')
        time.sleep(warmup)
        before, started = self.frames, time.monotonic()
        busy: List[float] = []
        if usage:
            measured = usage(list(pids), seconds)
            busy = [measured[pid][0] for pid in pids]
        else:
            time.sleep(seconds)
        return (self.frames - before) / (time.monotonic() - started), busy


def stream_params(hub: HubHarness, agent: str, max_rate: float) -> Dict[str, Any]:
    """Return bridge parameters with one stream source `flood` on TOPIC."""
    return {'hub_url': hub.url, 'agent_id': agent, 'env_file': '', 'status_sources': ['flood'],
            'flood.topic': TOPIC, 'flood.type': 'std_msgs/msg/Header', 'flood.mode': 'stream',
            'flood.max_rate': max_rate}


def throughput(hub: HubHarness, seconds: float, usage: Any, warmup: float = 3.0) -> tuple:
    """
    Return figures of a publisher running flat out.

    Messages/s through the bridge, rclpy receiving alone and websockets sending alone; the
    bridge's latency p50 / p99 in ms at the hub; the latency p99 of rclpy receiving alone;
    the CPU (% of one core) of the bridge, the publisher and this process (the hub) while
    the bridge forwards.
    """
    flood = spawn('flood', TOPIC)
    # The local hub in this process keeps every event of the whole run: its collector's full
    # passes over them (tens of ms) would be measured as the bridge's latency.
    gc.collect()
    gc.freeze()
    try:
        counter = spawn('count', TOPIC, STREAM_DEPTH, warmup, seconds)
        rclpy_rate = float(counter.stdout.readline())
        rclpy_p99 = float(counter.stdout.readline())
        stop(counter)
        with StreamCounter(hub, 'flood') as frames:
            bridge = BridgeProcess(stream_params(hub, 'bench-flood', 100_000.0))
            try:
                frames.keep = True
                bridge_rate, busy = frames.rate(
                    warmup, seconds, usage, (bridge.process.pid, flood.pid, os.getpid()))
                latencies = sorted(frames.latencies[len(frames.latencies) // 4:]) or [math.nan]
            finally:
                bridge.close()
    finally:
        stop(flood)
    with StreamCounter(hub, 'flood') as frames:
        sender = spawn('ws_flood', hub.url, 'bench-ws-flood')
        try:
            ws_rate, _ = frames.rate(warmup, seconds)
        finally:
            stop(sender)
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    return (bridge_rate, rclpy_rate, ws_rate, statistics.median(latencies), p99, rclpy_p99,
            busy)


def cpu_at(hub: HubHarness, kind: str, rate: float, seconds: float,
           usage: Any) -> Tuple[float, float, float]:
    """
    Return (bridge CPU %, bare subscriber CPU %, frames/s at the hub) for one topic of `kind`.

    One publisher at `rate` Hz; the bridge streams every message to the hub, the bare rclpy
    subscriber (the bridge's QoS, a callback that does nothing) only receives them, in turn.
    """
    topic = f'/bench/pulse_{kind.lower()}'
    msg_type = {'String': 'std_msgs/msg/String', 'BatteryState': 'sensor_msgs/msg/BatteryState'}
    pulse = spawn('pulse', topic, kind, rate)
    try:
        sink = spawn('sink', topic, kind, STREAM_DEPTH)
        try:
            time.sleep(3.0)  # discovered and flowing
            (sink_cpu, _), = usage([sink.pid], seconds).values()
        finally:
            stop(sink)
        agent = f'bench-cpu-{kind.lower()}'
        with StreamCounter(hub, 'pulse') as frames:
            bridge = BridgeProcess({'hub_url': hub.url, 'agent_id': agent, 'env_file': '',
                                    'status_sources': ['pulse'], 'pulse.topic': topic,
                                    'pulse.type': msg_type[kind], 'pulse.mode': 'stream',
                                    'pulse.max_rate': 2 * rate})
            try:
                wait_for(lambda: frames.frames > 0, 30, f'{kind} frames at the hub')
                time.sleep(2.0)
                before = frames.frames
                started = time.monotonic()
                (bridge_cpu, _), = usage([bridge.process.pid], seconds).values()
                delivered = (frames.frames - before) / (time.monotonic() - started)
            finally:
                bridge.close()
    finally:
        stop(pulse)
    return bridge_cpu, sink_cpu, delivered


def stream_at(hub: HubHarness, rate: float, count: int) -> Tuple[float, float, float]:
    """Stream `count` messages at `rate` Hz; return (% delivered, p50 ms, p99 ms)."""
    with StreamCounter(hub, 'flood') as frames:
        frames.keep = True
        bridge = BridgeProcess(stream_params(hub, 'bench-ticks', rate))
        ticks: Optional[Any] = None
        published = count
        try:
            hub.wait_connected('bench-ticks', timeout=30)
            ticks = spawn('ticks', TOPIC, rate, count)
            published = int(ticks.stdout.readline().split()[1])
            wait_for(lambda: len(frames.ids) >= published, 10, 'the last frames',
                     lambda: len(frames.ids))
        except AssertionError:
            pass  # fewer arrived: the percentage says how many
        finally:
            bridge.close()
            if ticks is not None:
                stop(ticks)
    ordered = sorted(frames.latencies) or [math.nan]
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return 100.0 * len(frames.ids) / published, statistics.median(ordered), p99
