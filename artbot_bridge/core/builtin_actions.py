"""
The commands every bridge answers itself, whatever its command table holds.

They run on the hub link's event loop and are handed what they read as plain callables: the
status snapshot, the recent log lines and the link's reconnect. No node, no rclpy.
"""

import asyncio
import time
from typing import Any, Awaitable, Callable, Dict, List

from .command_table import BUILT_IN
from .dispatcher import CommandError, Handler, Outcome
from .logbook import MAX_LOG_LINES
from .protocol import Command

# Each name is a method of BuiltIns, and `handlers` maps exactly these names; the command
# table may not use them.
NAMES = BUILT_IN
LOG_LINES = 50  # what `get_logs` returns when no `lines` parameter is given
RECONNECT_AFTER = 0.1  # seconds: the answer is queued first, and goes out on the new link


class BuiltIns:
    """The built-in commands, over what the bridge hands them (all called on the loop)."""

    def __init__(self, status: Callable[[], Dict[str, Any]],
                 recent_logs: Callable[[int], List[Dict[str, Any]]],
                 reconnect: Callable[[], Awaitable[None]]) -> None:
        self._status = status
        self._recent_logs = recent_logs
        self._reconnect = reconnect

    def handlers(self) -> Dict[str, Handler]:
        """Return {name: handler} for every name in NAMES."""
        return {name: getattr(self, name) for name in NAMES}

    async def ping(self, command: Command) -> Outcome:
        """Answer pong with the robot's time."""
        return True, {'message': 'pong', 'result': {'time': time.time()}}

    async def status(self, command: Command) -> Outcome:
        """Answer the status snapshot."""
        return True, {'message': 'status', 'result': self._status()}

    async def get_logs(self, command: Command) -> Outcome:
        """Answer the newest `lines` log lines (1 to MAX_LOG_LINES)."""
        lines = command.parameters.get('lines', LOG_LINES)
        if not isinstance(lines, int) or isinstance(lines, bool) or \
                not 0 < lines <= MAX_LOG_LINES:
            raise CommandError(f"parameter 'lines' must be an integer from 1 to {MAX_LOG_LINES}",
                               field='lines')
        logs = self._recent_logs(lines)
        return True, {'message': f'{len(logs)} log lines', 'result': {'logs': logs}}

    async def reconnect(self, command: Command) -> Outcome:
        """Answer at once, then drop the link and dial again."""
        asyncio.get_running_loop().call_later(
            RECONNECT_AFTER, lambda: asyncio.ensure_future(self._reconnect()))
        return True, {'message': 'reconnecting'}
