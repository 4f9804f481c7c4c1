"""
Pacing: what waits in the socket is what the link drains in about PACE seconds, no more.

Everything written to a socket queues in front of whatever is written after it: the
keepalive pings of both sides, their pongs, the heartbeat. On a slow link, megabytes of the
bridge's own answers in the socket mean a ping that waits longer than `ping_timeout`, and a
live link declared dead (by the bridge, or by the hub, whose pings wait for our pongs). So
before each frame, the sender waits while the bytes not yet acknowledged by the peer
(`unsent`: asyncio's buffer and, on Linux, the kernel's send queue) are over the limit: the
link's drain rate, measured on those same bytes while the sender waits, times PACE, and at
least FLOOR. The frames wait in the outbox instead, where heartbeats and robot_status go
first and the bounds apply. A fast link drains FLOOR in milliseconds, and is never paced.
"""

import array
import asyncio
import fcntl
import termios
import time
from typing import Any, Callable, Optional

PACE = 0.25  # seconds of the measured drain rate the socket may hold
FLOOR = 8 * 1024  # bytes the socket may always hold
POLL = (0.005, 0.1)  # the shortest and longest wait between two looks at the socket
SMOOTHING = 0.3  # weight of a new rate sample


def unsent(transport: Any) -> int:
    """Return the bytes not yet acknowledged by the peer: asyncio's buffer and the kernel's."""
    size = transport.get_write_buffer_size()
    sock = transport.get_extra_info('socket')
    if sock is None or not hasattr(termios, 'TIOCOUTQ'):
        return size
    queued = array.array('i', [0])
    try:
        fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, queued)
    except OSError:  # not Linux, or the socket is gone
        return size
    return size + queued[0]


class Pacer:
    """The link's drain rate, and the wait before a frame while the socket holds too much."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.rate: Optional[float] = None  # bytes per second the peer acknowledged
        self.waits = 0  # frames that waited

    def limit(self) -> int:
        """Return the bytes the socket may hold before the next frame."""
        return FLOOR if self.rate is None else max(FLOOR, int(self.rate * PACE))

    async def wait(self, transport: Any) -> None:
        """Return once the socket holds no more than `limit()` bytes (or it closes)."""
        held = unsent(transport)
        if held <= self.limit():
            return
        self.waits += 1
        since, left = self._clock(), held
        while left > self.limit() and not transport.is_closing():
            pause = (left - self.limit()) / self.rate if self.rate else POLL[1]
            await asyncio.sleep(min(POLL[1], max(POLL[0], pause)))
            now, left = self._clock(), unsent(transport)
            if left < held and now > since:  # nothing is written meanwhile: it all drained
                self._sample((held - left) / (now - since))
                held, since = left, now

    def _sample(self, rate: float) -> None:
        self.rate = rate if self.rate is None else (
            SMOOTHING * rate + (1 - SMOOTHING) * self.rate)
