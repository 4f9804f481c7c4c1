"""
The send task of a connection, and the proof that the hub handled what it sent.

A sent response or log line is kept until it is proven; what a closed socket leaves unproven
goes back to the front of the outbox, to be sent again. Two proofs, by `delivery_proof`:

- **echo** (the default): the hub's dashboard feed broadcast the frame (`feed.FeedReader`),
  so the hub's application has it. Its agent reader broadcasts in the order it handles
  frames, so an echo also proves every frame sent before it on the socket. robot_status
  frames are echoed too: while any sent frame waits for its echo longer than the echo bound,
  with no echo at all in that time, the hub's reader is dead (`overdue`), whatever its
  WebSocket library still answers, and the link is redialled.
- **pong**: a pong proves that the hub's WebSocket library read every frame sent before the
  ping (for a hub without the feed). Proof is asked when the queue runs dry, and at least every
  PROOF_EVERY frames under a steady flow. A library can read for a reader that is gone, so a
  pong-proven frame stays resendable for `grace` seconds: a socket that ends abnormally within
  that time sends it again (a repeated answer is harmless by design).

The socket holds about a second of what the link drains, no more (`pacing.Pacer`): on a
slow link, pings, pongs and heartbeats never wait behind megabytes of answers.

What is sent and not proven is bounded as the outbox is: durable frames go only while fewer
than `window` = (frames, bytes) are unproven; past it they wait in the outbox, under its
bounds, and heartbeats and robot_status still go.

Pongs also time the hub's read backlog and count the stream frames it has read (`HubLag`):
the outbox weighs each stream frame's age with that backlog, and hands out stream frames only
while the window of unread ones has room.
"""

import asyncio
from collections import deque
import time
from typing import Any, Callable, Deque, Optional, Tuple, TYPE_CHECKING

import websockets

from .feed import EchoKey, frame_key
from .hub_lag import HubLag
from .link import LinkStats
from .outbox import LOGS, Outbox, RESPONSES, STREAM
from .pacing import Pacer

if TYPE_CHECKING:  # sqlite3 is loaded only when an outbox file is configured
    from .spool import Spool

DURABLE = (RESPONSES, LOGS)
PROOF_EVERY = 64
Unproven = Tuple[int, str, str, Optional[int]]  # (send number, frame, queue, spool row)
Echo = Tuple[Optional[EchoKey], float, int]  # (echo key, when sent, send number or 0)


class Delivery:
    """Send the outbox on a socket; keep durable frames until they are proven handled."""

    def __init__(self, outbox: Outbox, stats: LinkStats, spool: Optional['Spool'],
                 lag: Optional[HubLag] = None, *, echo: bool = False, grace: float = 0.0,
                 window: Tuple[int, int] = (2 ** 62, 2 ** 62),
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._outbox = outbox
        self._probing = lag is not None  # stream_max_age: 0 is no bound, and no probes
        self._lag = lag if lag is not None else HubLag(0.0)  # the outbox's, when probing
        self._stats = stats
        self._spool = spool
        self._echo = echo
        self._grace = grace
        self._clock = clock
        self._unproven: Deque[Unproven] = deque()  # sent, not yet proven, oldest first
        self._unproven_bytes = 0
        self._window = window
        self._sends = 0  # durable frames sent, ever: the numbers in _unproven
        self._asked = 0  # the highest send number a ping in flight will prove
        self._waiting: Deque[Echo] = deque()  # echo: sent on this socket, not echoed yet
        self._echoed_at = 0.0  # echo: when this socket's last echo came (or it opened)
        # pong: (proven at, frame), kept for `grace` within the window's bounds, so that late
        # pongs on a busy link cannot keep more than the unproven frames may take.
        self._resendable: Deque[Tuple[float, Unproven]] = deque()
        self._resendable_bytes = 0
        self._settled = asyncio.Event()  # nothing unproven
        self.pacer = Pacer(clock)
        self._settled.set()

    def __len__(self) -> int:
        """Return how many sent frames are not proven handled yet."""
        return len(self._unproven)

    @property
    def unproven_bytes(self) -> int:
        """Return the size of the frames sent and not proven yet."""
        return self._unproven_bytes

    def has_window(self) -> bool:
        """Return whether the window of unproven frames takes another durable frame."""
        frames, size = self._window
        return len(self._unproven) < frames and self._unproven_bytes < size

    async def send(self, ws: Any) -> None:
        """Send what the outbox hands out, until the socket fails (the connection's task)."""
        lag = self._lag
        lag.reset()  # a new connection: what the last one left in flight is gone
        self._echoed_at = self._clock()
        try:
            await self._send(ws)
        finally:
            lag.close()

    async def _send(self, ws: Any) -> None:
        outbox, pacer = self._outbox, self.pacer
        while True:
            await pacer.wait(ws.transport)
            frame, queue, row = await outbox.get(self.has_window)
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
                continue
            number = 0
            if queue in DURABLE:
                self._sends = number = self._sends + 1
                self._unproven.append((number, frame, queue, row))
                self._unproven_bytes += len(frame)
                self._settled.clear()
            if self._echo:
                key = frame_key(frame)
                if key is not None or number:
                    self._waiting.append((key, self._clock(), number))
            elif number and (not (outbox.pending(RESPONSES) or outbox.pending(LOGS))
                             or self._sends - self._asked >= PROOF_EVERY
                             or not self.has_window()):  # a full window waits for a proof
                await self.ask_proof(ws)

    # -- the echo proof -------------------------------------------------------------------

    def echoed(self, key: EchoKey) -> None:
        """Take an echo from the hub's feed: its frame and every one sent before it are in."""
        self._echoed_at = self._clock()
        waiting = self._waiting
        for index, (sent, _, _) in enumerate(waiting):
            if sent == key:
                break
        else:
            return  # the second echo of a robot_status, or of a frame of an earlier socket
        upto = 0
        for _ in range(index + 1):
            upto = max(upto, waiting.popleft()[2])
        self._prove(upto)

    def overdue(self) -> float:
        """
        Return how long the oldest frame has waited for its echo with no echo since, or 0.

        The caller compares it with the echo bound: past it, the hub's reader is dead.
        """
        if not self._waiting:
            return 0.0
        return self._clock() - max(self._waiting[0][1], self._echoed_at)

    # -- the pong proof -------------------------------------------------------------------

    async def ask_proof(self, ws: Any) -> Optional['asyncio.Future']:
        """Ping; its pong proves that the hub's library read every frame sent before it."""
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
            if not self._echo:
                self._prove(upto)
        pong.add_done_callback(proven)
        return pong

    # -- both -----------------------------------------------------------------------------

    def _prove(self, upto: int) -> None:
        now = self._clock()
        if self._unproven and self._unproven[0][0] <= upto:
            self._outbox.wake()  # the window has room again
            self._outbox.freed()  # and so may the answers of the next command
        while self._unproven and self._unproven[0][0] <= upto:
            item = self._unproven.popleft()
            self._unproven_bytes -= len(item[1])
            if item[3] is not None:
                self._spool.remove(item[3])
            if self._grace:
                self._resendable.append((now, item))
                self._resendable_bytes += len(item[1])
        frames, size = self._window
        resendable = self._resendable
        while resendable and (now - resendable[0][0] > self._grace or len(resendable) > frames
                              or self._resendable_bytes > size):
            self._resendable_bytes -= len(resendable.popleft()[1][1])
        if not self._unproven:
            self._settled.set()

    async def settle(self, ws: Any, timeout: float) -> None:
        """Wait up to `timeout` for what is unproven to be proven (a clean close's last wait)."""
        if not self._echo:
            await self.ask_proof(ws)
        try:
            await asyncio.wait_for(self._settled.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    def requeue_unproven(self, abnormal: bool = True) -> None:
        """
        Put what the hub may not have handled back at the front of the outbox, in order.

        After an `abnormal` end, so are the frames a pong proved within the last `grace` s.
        """
        now = self._clock()
        again = [item for proven_at, item in self._resendable
                 if abnormal and now - proven_at <= self._grace]
        self._resendable.clear()
        self._resendable_bytes = 0
        self._waiting.clear()
        again += self._unproven
        self._unproven.clear()
        self._unproven_bytes = 0
        self._settled.set()
        self._stats.resent += len(again)
        for _, frame, queue, row in reversed(again):
            self._outbox.requeue(queue, frame, row)
