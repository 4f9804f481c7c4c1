"""
Stream sources: every message of a topic on its own robot_status frame, up to `max_rate`.

The ROS callback only takes a token and appends to a deque; the first message of a batch
asks the hub link's loop to drain it, and goes at once. After each pass the drain stays
scheduled for LINGER, so what comes meanwhile joins one later pass: a busy topic costs one
loop wake-up per LINGER, not one per message (at 1 kHz, messages come one at a time).
The loop converts and encodes each message once and queues the frame on the outbox's stream
queue (bounded, oldest dropped and counted, never kept on disk). Each message carries when it
arrived: one that would reach the hub older than `stream_max_age` (its wait here plus the hub's
read backlog) is dropped, counted, before it costs an encoding (`fresh`, the outbox's one test
of age), and again before it is sent.
Frames carry `{<source name>: {"seq": n, "data": {...}}}`: `seq` counts every message the
topic delivered, so a gap shows what the rate limit or a full queue dropped. They are encoded
through the robot_status model like every other frame: no raw encoder is kept for the stream,
because the model adds about 4 us a frame, 0.4 % of a core at 1 kHz, against the 40-56 % the
bridge spends on such a stream (bench/messages.py, bench/MESSAGES.md).

The subscription keeps as many messages as a 1 kHz topic delivers within `stream_max_age`
(`qos`): up to that rate, a message DDS overwrites before the callback takes it had waited
past the bound anyway; above it, the newest win.
"""

import asyncio
from collections import deque
import math
import time
from typing import Any, Callable, Deque, Optional, Tuple

from rclpy.qos import QoSProfile, ReliabilityPolicy

from .status import SourceSlot, StatusBoard
from ..core.protocol import encode
from ..core.ratelimit import RateLimiter

# After a pass the drain stays scheduled this long: the most a message that is not the first
# of a batch waits for the loop, and the least time between two wake-ups of it.
LINGER = 0.002
# The subscription's depth: a 1 kHz topic's messages within stream_max_age, within these.
DEPTH_RATE, MIN_DEPTH, MAX_DEPTH = 1000.0, 10, 100


def qos(max_age: float) -> QoSProfile:
    """Return the stream subscription QoS: reliable (a best-effort publisher still matches)."""
    depth = MAX_DEPTH if not max_age else \
        min(MAX_DEPTH, max(MIN_DEPTH, math.ceil(max_age * DEPTH_RATE)))
    return QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)


class StreamForwarder:
    """Forward the messages of one stream source to the outbox."""

    def __init__(self, slot: SourceSlot, agent_id: str,
                 call_soon: Callable[[Callable[[], None]], None],
                 put: Callable[[str, Optional[float]], None],
                 fresh: Callable[[float], bool] = lambda born: True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.slot = slot
        self.name = slot.settings.name
        rate = slot.settings.max_rate
        self.limit = RateLimiter(rate, max(1.0, rate / 10))  # 100 ms of jitter absorbed
        self._agent_id = agent_id
        self._call_soon = call_soon  # from the ROS thread: wakes the loop
        self._put = put  # (frame, when its message arrived)
        self._fresh = fresh
        self._clock = clock
        self._pending: Deque[Tuple[int, Any, float]] = deque()
        self._scheduled = False  # a drain is queued on the loop; a plain flag, GIL-atomic

    def offer(self, msg: Any) -> None:
        """Keep `msg` as the latest value and queue it for the hub (the ROS callback)."""
        self.slot.store(msg)
        if not self.limit.allow():
            return
        self._pending.append((self.slot.count, msg, self._clock()))
        if not self._scheduled:
            self._scheduled = True
            self._call_soon(self.drain)

    def drain(self) -> None:
        """Encode the pending messages and queue their frames (the loop thread)."""
        cfg, pending = self.slot.settings, self._pending
        batch = len(pending)
        for _ in range(batch):  # a bounded batch: the sender runs in between
            seq, msg, born = pending.popleft()
            if not self._fresh(born):
                continue
            # The whole message (or the listed fields): a type's hub meaning, such as
            # BatteryState's battery_level, belongs to the latest-value report.
            data = StatusBoard.message_data(cfg, msg, {})
            self._put(encode('robot_status', self._agent_id,
                             {self.name: {'seq': seq, 'data': data}}), born)
        if pending:  # more came meanwhile: another pass, after the sender's turn
            asyncio.get_running_loop().call_soon(self.drain)
        else:  # what comes next joins a later pass, with no wake-up
            asyncio.get_running_loop().call_later(LINGER, self._linger_end)

    def _linger_end(self) -> None:
        if not self._pending:
            self._scheduled = False
            if not self._pending:
                return
            self._scheduled = True  # appended between the check and the flag
        self.drain()
