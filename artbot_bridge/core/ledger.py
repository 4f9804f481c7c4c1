"""
One execution per command id, however often the command is delivered.

The Artbot hub never resends a command, but an operator's retry, a proxy or another hub may
deliver one id twice. A command id seen before is never executed again: while it runs, the
repeat is noted and answered when the result is there; once answered, the repeat gets the
same frame again. The last `size` answers are remembered,
within `max_bytes`: past that, the oldest large answers are replaced by their stubs (a short
answer saying it ran), so a big result never costs memory twice.

The ledger is the one record of what runs: the dispatcher asks it how many commands run and
which actions, to refuse what would not fit.
"""

from collections import deque, OrderedDict
from typing import Deque, Dict, List, Optional, Tuple

SIZE = 2048  # answered command ids remembered for repeats
MAX_BYTES = 4 * 2 ** 20  # what their answers may take, before the large ones shrink to stubs


class _Running:
    """A command id between `begin` and `finish`: its action and the repeats waiting."""

    __slots__ = ('action', 'waiting')

    def __init__(self) -> None:
        self.action: Optional[str] = None  # set by `start`; None while it is being checked
        self.waiting = 0


class CommandLedger:
    """Command ids that are running (with repeats waiting) or were answered (with the frame)."""

    def __init__(self, size: int = SIZE, max_bytes: int = MAX_BYTES) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._running: Dict[str, _Running] = {}
        self._answered: 'OrderedDict[str, Tuple[str, Optional[str]]]' = OrderedDict()
        self._with_stub: Deque[str] = deque()  # answers that can still shrink, oldest first
        self.repeats = 0

    @property
    def running(self) -> int:
        """Return how many commands are begun and not yet answered."""
        return len(self._running)

    def actions(self) -> List[str]:
        """Return the action of each started command (one entry per command)."""
        return [entry.action for entry in self._running.values() if entry.action is not None]

    def begin(self, command_id: str) -> Tuple[bool, Optional[str]]:
        """Return (new, cached frame): new means run it; a cached frame means send it again."""
        if command_id in self._answered:
            self.repeats += 1
            return False, self._answered[command_id][0]
        if command_id in self._running:
            self.repeats += 1
            self._running[command_id].waiting += 1
            return False, None
        self._running[command_id] = _Running()
        return True, None

    def start(self, command_id: str, action: str) -> None:
        """Record that the begun command's handler runs `action`, until `finish`."""
        self._running[command_id].action = action

    def preload(self, answered: 'list[tuple[str, str]]') -> None:
        """Remember answers kept on disk by an earlier run, oldest first."""
        for command_id, frame in answered:
            self._answered[command_id] = (frame, None)
            self._bytes += len(frame)

    def finish(self, command_id: str, frame: str, stub: Optional[str] = None) -> int:
        """Record the answer (and the stub that may replace it); return deliveries answered."""
        entry = self._running.pop(command_id, None)
        waiting = entry.waiting if entry is not None else 0
        self._answered[command_id] = (frame, stub)
        self._bytes += len(frame)
        if stub is not None:
            self._with_stub.append(command_id)
        if len(self._answered) > self._size:
            self._bytes -= len(self._answered.popitem(last=False)[1][0])
        while self._bytes > self._max_bytes and self._with_stub:
            key = self._with_stub.popleft()
            kept, spare = self._answered.get(key, ('', None))  # forgotten since: nothing to do
            if spare is not None:
                self._answered[key] = (spare, None)
                self._bytes += len(spare) - len(kept)
        return 1 + waiting
