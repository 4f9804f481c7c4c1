"""
How far behind the hub reads, from the pongs of the pings the delivery sends.

A ping is answered once the hub has read every frame sent before it, so its round trip is
the network's plus the hub's backlog. The network's part is the smallest round trip of the
last BASE_WINDOW seconds; what a ping in flight has waited beyond it is the backlog. Two
limits follow for the stream, whose frames are worth only their freshness:
- a stream frame goes only if its age and that backlog together stay within
  `stream_max_age` (the outbox's `fresh`);
- at most WINDOW stream frames are out and not proven read (`window_open`): a hub that
  stalls between two pings finds few stale frames in its socket. The pipe stays full: a
  ping goes when half the window is out, or `probe_every` after the last one.

When the hub falls behind, the stream waits, and is dropped counted, in the outbox instead
of in socket buffers that nothing can drop from, and what the hub reads next is fresh. No
WebSocket library measures a peer's read lag; this is the part a library does not do.
"""

from collections import deque
import time
from typing import Callable, Deque, Tuple

BASE_WINDOW = 10.0  # seconds of pongs the network's round trip is the smallest of
WINDOW = 32  # stream frames out and not proven read, at most
Token = Tuple[float, int]  # (when a ping went, stream frames sent before it)


class HubLag:
    """The hub's read backlog and the stream frames it has not read, for one connection."""

    def __init__(self, probe_every: float, clock: Callable[[], float] = time.monotonic,
                 window: int = WINDOW) -> None:
        self._probe_every = probe_every  # at most this long between two stream probes
        self._clock = clock
        self._window = window
        self._in_flight: Deque[Token] = deque()  # unanswered pings, oldest first
        self._last_probe = float('-inf')
        self._streamed = 0  # stream frames sent on this connection
        self._read = 0  # of them, proven read by a pong
        # (when, round trip) of recent pongs, round trips increasing: a sliding-window minimum.
        self._trips: Deque[Tuple[float, float]] = deque()
        self._live = True  # False between `close` and the next connection's `reset`

    def reset(self) -> None:
        """Forget everything: a new connection."""
        self._live = True
        self._in_flight.clear()
        self._trips.clear()
        self._last_probe = float('-inf')
        self._streamed = self._read = 0

    def close(self) -> None:
        """End the connection: no backlog, and the window open, until the next one."""
        self._live = False

    def streamed(self) -> bool:
        """Note a stream frame sent; return whether a probe (a ping) should follow it."""
        self._streamed += 1
        return not self._in_flight and (
            self._streamed - self._read >= self._window // 2
            or self._clock() - self._last_probe >= self._probe_every)

    def window_open(self) -> bool:
        """Return whether another stream frame may go: the window is not full."""
        return not self._live or self._streamed - self._read < self._window

    def sent(self) -> Token:
        """Note a ping about to go; return its token for `answered` or `lost`."""
        token = (self._clock(), self._streamed)
        self._last_probe = token[0]
        self._in_flight.append(token)
        return token

    def answered(self, token: Token) -> None:
        """Note the pong of the ping `token` (it answers every earlier ping too)."""
        now = self._clock()
        while self._in_flight and self._in_flight[0] <= token:
            self._in_flight.popleft()
        self._read = max(self._read, token[1])
        trips = self._trips
        trip = now - token[0]
        while trips and trips[-1][1] >= trip:
            trips.pop()
        trips.append((now, trip))
        while trips[0][0] < now - BASE_WINDOW:
            trips.popleft()

    def lost(self, token: Token) -> None:
        """Forget the ping `token`: it never went (the link is going)."""
        try:
            self._in_flight.remove(token)
        except ValueError:
            pass

    def backlog(self) -> float:
        """Return the seconds the oldest ping in flight has waited beyond the network's trip."""
        if not self._live or not self._in_flight:
            return 0.0
        base = self._trips[0][1] if self._trips else 0.0
        return max(0.0, self._clock() - self._in_flight[0][0] - base)
