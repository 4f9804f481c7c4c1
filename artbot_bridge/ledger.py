"""
Exactly one command_response per command id, however often the hub delivers the command.

The hub resends commands after a reconnect. A command id seen before is never executed
again: while it runs, the repeat is noted and answered when the result is there; once
answered, the repeat gets the same frame again. The last `size` answers are remembered.
"""

from collections import OrderedDict
from typing import Dict, Optional, Tuple


class CommandLedger:
    """Command ids that are running (with repeats waiting) or were answered (with the frame)."""

    def __init__(self, size: int = 2048) -> None:
        self._size = size
        self._running: Dict[str, int] = {}
        self._answered: 'OrderedDict[str, str]' = OrderedDict()
        self.repeats = 0

    def __len__(self) -> int:
        return len(self._running) + len(self._answered)

    @property
    def running(self) -> int:
        """Return how many commands are running."""
        return len(self._running)

    def begin(self, command_id: str) -> Tuple[bool, Optional[str]]:
        """Return (new, cached frame): new means run it; a cached frame means send it again."""
        if command_id in self._answered:
            self.repeats += 1
            return False, self._answered[command_id]
        if command_id in self._running:
            self.repeats += 1
            self._running[command_id] += 1
            return False, None
        self._running[command_id] = 0
        return True, None

    def finish(self, command_id: str, frame: str) -> int:
        """Record the answer; return how many deliveries it answers (1 plus repeats)."""
        waiting = self._running.pop(command_id, 0)
        self._answered[command_id] = frame
        if len(self._answered) > self._size:
            self._answered.popitem(last=False)
        return 1 + waiting
