"""
Commands read from the agent socket, each dispatched only once its answer has room.

The socket is read on, so that the WebSocket library keeps reading it: the library stops
reading a socket, pongs included, once 16 messages wait unread, and under the pong proof the
proof of every answer is a pong on this very socket. Commands wait for room in the held queue
(up to `max_queued_responses` of them, and half of `max_queued_bytes`) and are dispatched in
order as room comes; only a flood beyond that waits in the socket, rather than losing answers.

A command has room when its answer, at its largest, fits in the answer queue beside the
answers of the commands still running and, under the echo proof, the frames sent and not
proven yet (under the pong proof the delivery's window bounds those). When the link ends,
what already arrived is read anyway (`draining`) and held: it runs first, in order, on the
next link.
"""

import asyncio
from collections import deque
import time
from typing import Any, Callable, Deque, Optional, Tuple, Union

from .delivery import Delivery
from .link import LinkStats
from .outbox import Outbox, RESPONSES
from .protocol import Command, parse_command, ProtocolError
from .ratelimit import RateLimiter
from .settings import Settings

Item = Union[Command, ProtocolError]


class Inbound:
    """Read commands ahead into a bounded held queue; dispatch each as its answer has room."""

    def __init__(self, settings: Settings, outbox: Outbox, delivery: Delivery,
                 stats: LinkStats, running: Callable[[], int], on_command: Callable[[Item], None],
                 logger: Any, *, count_unproven: bool = True) -> None:
        self._settings = settings
        self._outbox = outbox
        self._delivery = delivery
        self._stats = stats
        self._running = running  # commands running: their answers are on their way
        self._count_unproven = count_unproven  # the echo proof: its proof comes on the feed
        self._on_command = on_command
        self._log = logger
        self._drop_log = RateLimiter(0.2, 5.0)  # dropped-frame warnings: a burst, then 1 per 5 s
        self.heard_at = 0.0  # when the agent socket last brought a frame
        self._draining = False  # the socket ends: read what arrived, whatever the room
        # Commands read and not dispatched yet, with their frames' sizes: kept across links.
        self._held: Deque[Tuple[Item, int]] = deque()
        self._held_bytes = 0
        self._arrived = asyncio.Event()  # a command was held
        self._moved = asyncio.Event()  # a held command was dispatched

    def opened(self) -> None:
        """Start a link: nothing heard on it yet."""
        self.heard_at = time.monotonic()

    def drain(self, draining: bool) -> None:
        """Read what arrived whatever the room (True, the link ends), or no longer (False)."""
        self._draining = draining
        if draining:
            self._moved.set()  # a reader waiting out a flood reads on: the hub never resends

    def coming(self) -> Tuple[int, int]:
        """Return (frames, bytes) on their way to the answer queue or still unproven."""
        running, delivery = self._running(), self._delivery
        if not self._count_unproven:
            return running, running * self._settings.max_response_bytes
        return (running + len(delivery),
                running * self._settings.max_response_bytes + delivery.unproven_bytes)

    async def receive(self, ws: Any) -> None:
        """Read commands into the held queue until the socket ends (the connection's task)."""
        mover = asyncio.ensure_future(self._move_held())
        if self._held:  # read as an earlier link ended: they go first
            self._arrived.set()
        bound = (self._settings.max_queued_responses, self._settings.max_queued_bytes // 2)
        try:
            async for frame in ws:
                command = self._parse(frame)
                if command is None:
                    continue
                self._held.append((command, len(frame)))
                self._held_bytes += len(frame)
                self._arrived.set()
                while (len(self._held) > bound[0] or self._held_bytes > bound[1]) \
                        and not self._draining:  # a flood: the rest waits in the socket
                    self._moved.clear()
                    await self._moved.wait()
        finally:
            mover.cancel()
            await asyncio.gather(mover, return_exceptions=True)

    def _parse(self, frame: Any) -> Optional[Item]:
        """Return the command in `frame` (a ProtocolError with an id is answered), or None."""
        stats = self._stats
        stats.received += 1
        self.heard_at = time.monotonic()
        try:
            return parse_command(frame)
        except ProtocolError as err:
            stats.bad_frames += 1
            if err.command_id is None:
                if self._drop_log.allow():
                    self._log.warning(f'dropped an inbound frame: {err.reason} '
                                      f'({stats.bad_frames} so far)')
                return None
            return err  # still answered, with the reason

    async def _move_held(self) -> None:
        """Dispatch the held commands in order as room comes, until the link ends."""
        while True:
            while not self._held:
                self._arrived.clear()
                await self._arrived.wait()
            await self._outbox.room(RESPONSES, self.coming, self._settings.max_response_bytes,
                                    lambda: self._draining)
            if self._draining:
                return  # the link ends: what is held runs first on the next one
            command, size = self._held.popleft()
            self._held_bytes -= size
            self._dispatch(command)
            self._moved.set()

    def _dispatch(self, command: Item) -> None:
        try:
            self._on_command(command)
        except Exception as err:  # noqa: B902 - a broken handler must not end the link
            self._log.error(f'command handler failed: {type(err).__name__}: {err}')
