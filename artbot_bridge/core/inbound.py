"""
Commands read from the agent socket, each only once its answer has room.

A command is read while its answer, at its largest, fits in the answer queue beside the
answers of the commands still running and the frames sent and not proven yet; a flood waits
in the socket rather than losing answers. When the link ends, what already arrived is read
anyway (`draining`): a command with no room then is held, and run first on the next link.
"""

from collections import deque
import time
from typing import Any, Callable, Deque, Tuple, Union

from .delivery import Delivery
from .link import LinkStats
from .outbox import Outbox, RESPONSES
from .protocol import Command, parse_command, ProtocolError
from .ratelimit import RateLimiter
from .settings import Settings

Item = Union[Command, ProtocolError]


class Inbound:
    """Read commands within the room their answers need; hold them across links."""

    def __init__(self, settings: Settings, outbox: Outbox, delivery: Delivery,
                 stats: LinkStats, running: Callable[[], int], on_command: Callable[[Item], None],
                 logger: Any) -> None:
        self._settings = settings
        self._outbox = outbox
        self._delivery = delivery
        self._stats = stats
        self._running = running  # commands running: their answers are on their way
        self._on_command = on_command
        self._log = logger
        self._drop_log = RateLimiter(0.2, 5.0)  # dropped-frame warnings: a burst, then 1 per 5 s
        self.heard_at = 0.0  # when the agent socket last brought a frame
        self._draining = False  # the socket ends: read what arrived, whatever the room
        # Commands read as a link ended that had no room yet: run first on the next link.
        self._held: Deque[Item] = deque()

    def opened(self) -> None:
        """Start a link: nothing heard on it yet."""
        self.heard_at = time.monotonic()

    def drain(self, draining: bool) -> None:
        """Read what arrived whatever the room (True, the link ends), or no longer (False)."""
        self._draining = draining

    def coming(self) -> Tuple[int, int]:
        """Return (frames, bytes) on their way to the answer queue or still unproven."""
        running, delivery = self._running(), self._delivery
        return (running + len(delivery),
                running * self._settings.max_response_bytes + delivery.unproven_bytes)

    async def receive(self, ws: Any) -> None:
        """Read and dispatch commands until the socket ends (the connection's task)."""
        while self._held and not self._draining:  # read as an earlier link ended: first
            await self._room()
            if not self._draining:
                self._dispatch(self._held.popleft())
        stats = self._stats
        async for frame in ws:
            stats.received += 1
            self.heard_at = time.monotonic()
            try:
                command: Item = parse_command(frame)
            except ProtocolError as err:
                stats.bad_frames += 1
                if err.command_id is None:
                    if self._drop_log.allow():
                        self._log.warning(f'dropped an inbound frame: {err.reason} '
                                          f'({stats.bad_frames} so far)')
                    continue
                command = err  # still answered, with the reason
            # A flood of commands waits here, in the socket, rather than losing answers.
            await self._room()
            if self._draining and self._held_room() and not self._outbox.has_room(
                    RESPONSES, *self.coming(), self._settings.max_response_bytes):
                self._held.append(command)  # the link ends: kept, run on the next one
                continue
            self._dispatch(command)

    async def _room(self) -> None:
        """Wait until the next command's answer fits, or the link ends (`_draining`)."""
        await self._outbox.room(RESPONSES, self.coming, self._settings.max_response_bytes,
                                lambda: self._draining)

    def _held_room(self) -> bool:
        return len(self._held) < self._settings.max_queued_responses

    def _dispatch(self, command: Item) -> None:
        try:
            self._on_command(command)
        except Exception as err:  # noqa: B902 - a broken handler must not end the link
            self._log.error(f'command handler failed: {type(err).__name__}: {err}')
