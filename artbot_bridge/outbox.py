"""
Delivery policy for outbound frames.

Heartbeat and robot_status keep only their latest frame (an old one is worth nothing).
Command responses wait in a bounded FIFO and go out first, in order; log lines wait in their
own, smaller FIFO and go out last, so a flood of logs can never push out a command result.
Past a bound the oldest frame is dropped and counted. The outbox belongs to the hub link's
event loop: other threads reach it through `LoopThread.call_soon`.
"""

import asyncio
from collections import deque
from typing import Deque, Dict, Optional, Tuple

RESPONSES, LOGS = 'responses', 'logs'


class Outbox:
    """Latest-value slots plus two bounded FIFOs, drained by one sender."""

    def __init__(self, max_responses: int = 1000, max_logs: int = 200) -> None:
        self._latest: Dict[str, str] = {}
        self._queues: Dict[str, Deque[str]] = {RESPONSES: deque(), LOGS: deque()}
        self._bounds = {RESPONSES: max_responses, LOGS: max_logs}
        self._ready = asyncio.Event()
        self.dropped = {RESPONSES: 0, LOGS: 0}

    def __len__(self) -> int:
        return sum(len(queue) for queue in self._queues.values()) + len(self._latest)

    def put_latest(self, kind: str, frame: str) -> None:
        """Replace the pending frame of `kind` (heartbeat, robot_status)."""
        self._latest[kind] = frame
        self._ready.set()

    def put(self, queue: str, frame: str) -> None:
        """Queue a frame on RESPONSES or LOGS; past the bound the oldest is dropped, counted."""
        frames = self._queues[queue]
        if len(frames) >= self._bounds[queue]:
            if not frames:
                self.dropped[queue] += 1
                return
            frames.popleft()
            self.dropped[queue] += 1
        frames.append(frame)
        self._ready.set()

    def requeue(self, queue: str, frame: str) -> None:
        """Put back a queued frame whose send failed, at the front of its queue."""
        self._queues[queue].appendleft(frame)
        self._ready.set()

    def clear_latest(self) -> None:
        """Forget latest-value frames (a new connection sends fresh ones)."""
        self._latest.clear()

    def pop(self) -> Optional[Tuple[str, Optional[str]]]:
        """Return (frame, its queue or None): responses, heartbeat, robot_status, then logs."""
        if self._queues[RESPONSES]:
            return self._queues[RESPONSES].popleft(), RESPONSES
        for kind in ('heartbeat', 'robot_status'):
            if kind in self._latest:
                return self._latest.pop(kind), None
        if self._queues[LOGS]:
            return self._queues[LOGS].popleft(), LOGS
        return None

    async def get(self) -> Tuple[str, Optional[str]]:
        """Wait for and return the next frame."""
        while True:
            item = self.pop()
            if item is not None:
                return item
            self._ready.clear()
            await self._ready.wait()
