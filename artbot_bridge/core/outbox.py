"""
Delivery policy for outbound frames.

Heartbeat and robot_status keep only their latest frame (an old one is worth nothing), and go
out first. Command responses wait in a bounded FIFO and go out next, in order; log lines wait
in their own, smaller FIFO and go after them, and stream frames go last, so neither a flood of
logs nor a fast stream can push out a command result. Past a queue's length bound its oldest
frame is dropped and counted; past the byte budget of the queues together, the oldest stream
frames go first, then log lines, then responses. A stream frame also carries when its message
arrived: one that would reach the hub older than `max_age` (its age plus the hub's read
backlog, `lag`) is worth less than the next, and is dropped (`stale`) rather than sent, so the
freshest data never waits behind stale frames; stream frames go only while the window is open.
The other drops are for a link that is down: while it is up, the hub link waits for `room()`
before it reads the next command, counting what is on its way (the answers of running commands
at their largest, the frames sent and not proven yet), so a flood of commands slows the hub
down (TCP carries the pressure) instead of losing answers. The sender takes durable frames
only while its window of unproven frames has room (`get(durable)`). The outbox belongs to the
hub link's event loop: other threads reach it through `LoopThread.call_soon`.
"""

import asyncio
from collections import deque
import time
from typing import Callable, Deque, Dict, Iterable, Optional, Protocol, Tuple

RESPONSES, LOGS, STREAM = 'responses', 'logs', 'stream'
# (frame, its row in the spool or None); on STREAM: (frame, when its message arrived)
Item = Tuple[str, Optional[float]]


class Lag(Protocol):
    """The hub's read backlog and stream window (`hub_lag.HubLag`, while a connection sends)."""

    def backlog(self) -> float:
        """Return the seconds the hub reads behind."""

    def window_open(self) -> bool:
        """Return whether another stream frame may go now."""


class Outbox:
    """Latest-value slots plus three bounded FIFOs, drained by one sender."""

    def __init__(self, max_responses: int = 1000, max_logs: int = 200,
                 max_bytes: int = 8 * 2 ** 20, max_stream: int = 1000, max_age: float = 0.0,
                 on_drop: Callable[[int], None] = lambda row: None,
                 lag: Optional['Lag'] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._latest: Dict[str, str] = {}
        self._max_age = max_age
        self._clock = clock
        self.stale = 0  # stream frames dropped for their age
        self._lag = lag  # the hub's read backlog and stream window (hub_lag.HubLag)
        self._max_bytes = max_bytes
        self.queued_bytes = 0
        self._sizes = {RESPONSES: 0, LOGS: 0, STREAM: 0}  # bytes queued on each
        self._queues: Dict[str, Deque[Item]] = {
            RESPONSES: deque(), LOGS: deque(), STREAM: deque()}
        self._bounds = {RESPONSES: max_responses, LOGS: max_logs, STREAM: max_stream}
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self.dropped = {RESPONSES: 0, LOGS: 0, STREAM: 0}
        self._on_drop = on_drop  # forget a spooled frame (Spool.remove)

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values()) + len(self._latest)

    def put_latest(self, kind: str, frame: str) -> None:
        """Replace the pending frame of `kind` (heartbeat, robot_status)."""
        self._latest[kind] = frame
        self._ready.set()

    def fresh(self, born: float) -> bool:
        """Return whether a stream message that arrived at `born` may still go; else count it."""
        backlog = self._lag.backlog() if self._lag is not None else 0.0
        if self._max_age and self._clock() - born + backlog > self._max_age:
            self.stale += 1
            return False
        return True

    def put(self, queue: str, frame: str, row: Optional[int] = None,
            born: Optional[float] = None) -> None:
        """
        Queue a frame on RESPONSES, LOGS or STREAM; past the bounds the oldest go, counted.

        `row` is the frame's row in the spool; `born`, when a stream frame's message arrived.
        """
        if self._bounds[queue] == 0:
            self.dropped[queue] += 1
            if row is not None:
                self._on_drop(row)
            return
        frames = self._queues[queue]
        if len(frames) >= self._bounds[queue]:
            self._drop(queue)
        frames.append((frame, born if queue == STREAM else row))
        self._add(queue, len(frame))
        for victim in (STREAM, LOGS, RESPONSES):
            while self.queued_bytes > self._max_bytes and len(self._queues[victim]) > (
                    1 if victim == queue else 0):
                self._drop(victim)
        self._ready.set()

    def has_room(self, queue: str, coming: int = 0, coming_bytes: int = 0,
                 each: int = 0) -> bool:
        """
        Return whether one more frame of up to `each` bytes fits on `queue`.

        `coming` frames of `coming_bytes` in all are on their way to it. When nothing is
        queued or coming, one frame always fits, whatever its size.
        """
        count = len(self._queues[queue]) + coming
        if not count:
            return True
        return count < self._bounds[queue] \
            and self._sizes[queue] + coming_bytes + each <= self._max_bytes

    async def room(self, queue: str,
                   coming: Callable[[], Tuple[int, int]] = lambda: (0, 0),
                   each: int = 0, skip: Callable[[], bool] = lambda: False) -> None:
        """
        Wait until `has_room` holds, with `coming()` as (frames, bytes) on their way.

        `skip()` ends the wait whatever the room (checked again after each `freed`).
        """
        while not skip() and not self.has_room(queue, *coming(), each):
            self._room.clear()
            await self._room.wait()

    def freed(self) -> None:
        """Have `room` look again: frames on their way have gone (proven, or answered)."""
        self._room.set()

    def _add(self, queue: str, size: int) -> None:
        self.queued_bytes += size
        self._sizes[queue] += size

    def pending(self, queue: str) -> bool:
        """Return whether frames wait on `queue`."""
        return bool(self._queues[queue])

    def _drop(self, queue: str) -> None:
        frame, row = self._queues[queue].popleft()
        self._add(queue, -len(frame))
        self._room.set()
        self.dropped[queue] += 1
        if row is not None and queue != STREAM:
            self._on_drop(int(row))

    def requeue(self, queue: str, frame: str, row: Optional[float] = None) -> None:
        """Put back a frame whose send failed, at the front of its queue, with what pop gave."""
        self._queues[queue].appendleft((frame, row))
        self._add(queue, len(frame))
        self._ready.set()

    def preload(self, items: Iterable[Tuple[int, str, str]]) -> None:
        """Queue frames kept on disk by an earlier run: (row, queue, frame), oldest first."""
        for row, queue, frame in items:
            self.put(queue, frame, row)

    def clear_latest(self) -> None:
        """Forget latest-value frames (a new connection sends fresh ones)."""
        self._latest.clear()

    def pop(self, durable: bool = True) -> Optional[Tuple[str, Optional[str], Optional[float]]]:
        """
        Return (frame, queue or None, tag): telemetry, responses, logs, then stream frames.

        Heartbeat and robot_status go first: one each, small, and late they say the link
        or the robot is dead when it is not.

        The tag is a durable frame's spool row, or when a stream frame's message arrived.
        Without `durable`, responses and log lines stay queued.
        """
        for kind in ('heartbeat', 'robot_status'):
            if kind in self._latest:
                return self._latest.pop(kind), None, None
        if durable and self._queues[RESPONSES]:
            return self._take(RESPONSES)
        if durable and self._queues[LOGS]:
            return self._take(LOGS)
        stream = self._queues[STREAM]
        while stream and (self._lag is None or self._lag.window_open()):
            frame, queue, born = self._take(STREAM)
            if born is None or self.fresh(born):
                return frame, queue, born  # requeued with it, a frame keeps its age
        return None

    def _take(self, queue: str) -> Tuple[str, str, Optional[float]]:
        frame, row = self._queues[queue].popleft()
        self._add(queue, -len(frame))
        self._room.set()
        return frame, queue, row

    def wake(self) -> None:
        """Have a waiting `get` look again (a stream window that had no room may have some)."""
        self._ready.set()

    async def get(self, durable: Callable[[], bool] = lambda: True
                  ) -> Tuple[str, Optional[str], Optional[float]]:
        """Wait for and return the next frame (durable ones only while `durable()`)."""
        while True:
            item = self.pop(durable())
            if item is not None:
                return item
            self._ready.clear()
            await self._ready.wait()
