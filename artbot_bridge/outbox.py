"""
Delivery policy for outbound frames.

Heartbeat and robot_status keep only their latest frame (an old one is worth nothing);
command_response and log_entry frames wait in one bounded FIFO and go out in order. The outbox
belongs to the hub link's event loop: other threads reach it through `LoopThread.call_soon`.
"""

import asyncio
from collections import deque
from typing import Deque, Dict, Optional, Tuple


class Outbox:
    """Latest-value slots plus a bounded FIFO, drained by one sender."""

    def __init__(self, max_queued: int = 1000) -> None:
        self._latest: Dict[str, str] = {}
        self._queue: Deque[str] = deque()
        self._max_queued = max_queued
        self._ready = asyncio.Event()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._queue) + len(self._latest)

    def put_latest(self, kind: str, frame: str) -> None:
        """Replace the pending frame of `kind` (heartbeat, robot_status)."""
        self._latest[kind] = frame
        self._ready.set()

    def put(self, frame: str) -> None:
        """Queue a frame that must not be lost; past the bound the oldest is dropped, counted."""
        if len(self._queue) >= self._max_queued:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(frame)
        self._ready.set()

    def requeue(self, frame: str) -> None:
        """Put back a queued frame whose send failed, at the front."""
        self._queue.appendleft(frame)
        self._ready.set()

    def clear_latest(self) -> None:
        """Forget latest-value frames (a new connection sends fresh ones)."""
        self._latest.clear()

    def pop(self) -> Optional[Tuple[str, bool]]:
        """Return (frame, queued) with queued frames first, or None when empty."""
        if self._queue:
            return self._queue.popleft(), True
        for kind in ('heartbeat', 'robot_status'):
            if kind in self._latest:
                return self._latest.pop(kind), False
        if self._latest:
            return self._latest.popitem()[1], False
        return None

    async def get(self) -> Tuple[str, bool]:
        """Wait for and return the next frame."""
        while True:
            item = self.pop()
            if item is not None:
                return item
            self._ready.clear()
            await self._ready.wait()
