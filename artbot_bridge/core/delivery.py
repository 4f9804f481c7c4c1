"""
The send task of a connection, and the proof that the hub read what it sent.

A sent response or log line is kept until a pong proves the hub read past it (the hub's
WebSocket reads frames in order, and a ping is answered once it is read): proof is asked
when the queue runs dry, and at least every PROOF_EVERY frames under a steady flow. What a
closed socket leaves unproven goes back to the front of the outbox, to be sent again.

The same pongs time the hub's read backlog and count the stream frames it has read
(`HubLag`): the outbox weighs each stream frame's age with that backlog, and hands out stream
frames only while the window of unread ones has room.
"""

import asyncio
from collections import deque
from typing import Any, Deque, Optional, Tuple, TYPE_CHECKING

import websockets

from .hub_lag import HubLag
from .link import LinkStats
from .outbox import LOGS, Outbox, RESPONSES, STREAM

if TYPE_CHECKING:  # sqlite3 is loaded only when an outbox file is configured
    from .spool import Spool

DURABLE = (RESPONSES, LOGS)
PROOF_EVERY = 64
Unproven = Tuple[int, str, str, Optional[int]]  # (send number, frame, queue, spool row)


class Delivery:
    """Send the outbox on a socket; keep durable frames until a pong proves them read."""

    def __init__(self, outbox: Outbox, stats: LinkStats, spool: Optional['Spool'],
                 probe_every: float = 0.0) -> None:
        self._outbox = outbox
        self._probing = probe_every > 0  # stream_max_age: 0 is no bound, and no probes
        self._lag = HubLag(probe_every)
        self._stats = stats
        self._spool = spool
        self._unproven: Deque[Unproven] = deque()  # sent, not yet proven read, oldest first
        self._sends = 0  # durable frames sent, ever: the numbers in _unproven
        self._asked = 0  # the highest send number a ping in flight will prove

    def __len__(self) -> int:
        """Return how many sent frames are not proven read yet."""
        return len(self._unproven)

    async def send(self, ws: Any) -> None:
        """Send what the outbox hands out, until the socket fails (the connection's task)."""
        outbox, lag = self._outbox, self._lag
        lag.reset()  # a new connection: what the last one left in flight is gone
        if self._probing:
            outbox.lag, outbox.stream_open = lag.backlog, lag.window_open
        try:
            await self._send(ws)
        finally:
            outbox.lag, outbox.stream_open = (lambda: 0.0), (lambda: True)

    async def _send(self, ws: Any) -> None:
        outbox = self._outbox
        while True:
            frame, queue, row = await outbox.get()
            try:
                await ws.send(frame)
            except BaseException:
                if queue is not None:
                    outbox.requeue(queue, frame, row)
                raise
            self._stats.sent += 1
            if queue == STREAM:
                if self._probing and self._lag.streamed():
                    await self.ask_proof(ws)
            elif queue in DURABLE:
                self._sends += 1
                self._unproven.append((self._sends, frame, queue, row))
                if not (outbox.pending(RESPONSES) or outbox.pending(LOGS)) \
                        or self._sends - self._asked >= PROOF_EVERY:
                    await self.ask_proof(ws)

    async def ask_proof(self, ws: Any) -> Optional['asyncio.Future']:
        """Ping; its pong proves that the hub read every frame sent before it."""
        upto = self._asked = self._sends
        token = self._lag.sent()
        try:
            pong = await ws.ping()
        except websockets.exceptions.WebSocketException:
            self._lag.lost(token)
            return None  # the link is going: what is unproven is sent again on the next one

        def proven(waiter: 'asyncio.Future') -> None:
            if waiter.cancelled() or waiter.exception() is not None:
                return
            self._lag.answered(token)
            self._outbox.wake()  # the stream window may have room again
            while self._unproven and self._unproven[0][0] <= upto:
                row = self._unproven.popleft()[3]
                if row is not None:
                    self._spool.remove(row)
        pong.add_done_callback(proven)
        return pong

    def requeue_unproven(self) -> None:
        """Put what the hub may not have read back at the front of the outbox, in order."""
        self._stats.resent += len(self._unproven)
        while self._unproven:
            _, frame, queue, row = self._unproven.pop()
            self._outbox.requeue(queue, frame, row)
