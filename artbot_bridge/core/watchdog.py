"""
The link's own watchdog, beside the `websockets` keepalive, and how a dropped link ends.

The library's keepalive proves only that the hub's WebSocket library reads: the real hub's
agent reader can be dead behind a library that still pongs. And its ping waits, with no
deadline, for a full send buffer to drain before its timeout starts. So `watch` ends a
connection on either of two findings of its own:

- **dead reader** (echo proof): a sent frame waited `echo_bound` for its echo from the hub's
  dashboard feed, and no echo at all came in that time;
- **stalled**: bytes waited to be sent or acknowledged, and their count did not shrink, for
  `ping_timeout`: the peer reads nothing, and no ping can reach it behind those bytes. The
  count is asyncio's write buffer plus, on Linux, the kernel's send queue (SIOCOUTQ: bytes
  not yet acknowledged), which holds megabytes before asyncio's buffer grows at all.

Before a link is dropped, `drain` reads the commands that already arrived on it: the hub
never sends a command twice, and one left unread in a socket that closes is lost.
"""

import asyncio
import time
from typing import Any, Callable

from .delivery import Delivery
from .link import LinkStats
from .pacing import unsent

QUIET = 0.2  # seconds without a frame after which a socket being drained counts as read
DRAIN = 1.0  # seconds a drain may take, at most


class DeadReader(ConnectionError):
    """The hub's reader handled nothing for longer than the echo bound: the link is dropped."""


class StalledLink(ConnectionError):
    """The bytes waiting to be sent did not shrink for `ping_timeout`: the link is cut."""


async def watch(ws: Any, delivery: Delivery, stats: LinkStats, echo_bound: float,
                stall: float) -> None:
    """Raise DeadReader or StalledLink when the connection must end (`echo_bound` 0: off)."""
    transport = ws.transport
    tick = min(0.5, stall / 4, echo_bound / 4 if echo_bound else 0.5)
    held, moved_at = 0, time.monotonic()
    while True:
        await asyncio.sleep(tick)
        now = time.monotonic()
        waited = delivery.overdue() if echo_bound else 0.0
        if waited > echo_bound:
            stats.dead_readers += 1
            raise DeadReader(f"the hub's reader handled nothing for {waited:.1f} s "
                             f'({len(delivery)} frames unproven) while its socket stayed open')
        size = unsent(transport)
        if size < held or not size:
            moved_at = now
        held = size
        if now - moved_at > stall:
            stats.stalls += 1
            raise StalledLink(f'{size} bytes have not left the send buffer for {stall:g} s')


async def drain(receive: 'asyncio.Future', heard_at: Callable[[], float]) -> None:
    """Let `receive` read what already arrived: until its socket ends or is quiet for QUIET."""
    start = time.monotonic()
    while not receive.done() and time.monotonic() - start < DRAIN \
            and time.monotonic() - max(start, heard_at()) < QUIET:
        await asyncio.wait([receive], timeout=QUIET / 4)


async def drop(ws: Any, error: BaseException, close_timeout: float) -> None:
    """
    End the socket after the watchdog's `error`; any other error ended it already.

    A stalled socket is aborted at once; a dead reader's gets a close, cut at `close_timeout`.
    """
    if not isinstance(error, (DeadReader, StalledLink)):
        return
    if isinstance(error, StalledLink):
        ws.transport.abort()  # a close would wait for the full buffer to drain
        return
    try:
        await asyncio.wait_for(ws.close(1011, 'hub reader stopped'), close_timeout)
    except Exception:  # noqa: B902 - a close that did not complete: cut it
        ws.transport.abort()
