"""
One execution per command id, however often the command is delivered.

The Artbot hub never resends a command, but an operator's retry, a proxy or another hub may
deliver one id twice. A command id seen before is never executed again: while it runs, the
repeat is noted and answered when the result is there; once answered, the repeat gets the
same frame again.

Executed ids (their handler was started, whatever it answered) are kept by count and by age:
the newest `size` of them, and every one answered within the last `age` seconds. An executed
id goes only when it is both older than `age` and past the `size` newest. Refusals (answers
given without running anything: unknown action, rate limit, busy, a frame that does not
parse) are kept apart, the newest `refusals` of them, so no flood of refusals can push an
executed id out.

What that bounds: running ids by `max_concurrent_commands`; refusals by `refusals`; executed
ids by `size` plus those answered within `age`, which the dispatcher's rate limit bounds by
max_commands_per_minute * age / 60 plus its burst (8,648 at the defaults: 2,048 + 10 per
second for 600 s + 600). Answers over 4 KiB carry a stub (a short answer saying it ran): past
`max_bytes`, the oldest of them are replaced by their stubs, so a big result never costs
memory twice; each other answer is at most 4 KiB, and each refusal is small.

The ledger is the one record of what runs: the dispatcher asks it how many commands run and
which actions, to refuse what would not fit.
"""

from collections import deque, OrderedDict
import time
from typing import Callable, Deque, Dict, List, Optional, Tuple

SIZE = 2048  # executed command ids remembered, whatever their age
AGE = 600.0  # seconds an executed command id is remembered, whatever the count
REFUSALS = 2048  # refused command ids remembered, apart from the executed ones
MAX_BYTES = 4 * 2 ** 20  # what their answers may take, before the large ones shrink to stubs


class _Running:
    """A command id between `begin` and `finish`: its action and the repeats waiting."""

    __slots__ = ('action', 'waiting')

    def __init__(self) -> None:
        self.action: Optional[str] = None  # set by `start`; None while it is being checked
        self.waiting = 0


class CommandLedger:
    """Command ids that are running (with repeats waiting) or were answered (with the frame)."""

    def __init__(self, size: int = SIZE, max_bytes: int = MAX_BYTES, *, age: float = AGE,
                 refusals: int = REFUSALS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._age = age
        self._refusals = refusals
        self._clock = clock
        self._bytes = 0
        self._running: Dict[str, _Running] = {}
        # Executed ids, oldest first: (frame, stub, when answered).
        self._answered: 'OrderedDict[str, Tuple[str, Optional[str], float]]' = OrderedDict()
        self._refused: 'OrderedDict[str, str]' = OrderedDict()
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
        executed = self._answered.get(command_id)
        frame = executed[0] if executed is not None else self._refused.get(command_id)
        if frame is not None:
            self.repeats += 1
            return False, frame
        if command_id in self._running:
            self.repeats += 1
            self._running[command_id].waiting += 1
            return False, None
        self._running[command_id] = _Running()
        return True, None

    def start(self, command_id: str, action: str) -> None:
        """Record that the begun command's handler runs `action`, until `finish`."""
        self._running[command_id].action = action

    def preload(self, remembered: 'list[tuple[str, str, bool]]') -> None:
        """Remember answers kept by an earlier run, oldest first: (id, frame, ran)."""
        now = self._clock()  # their age counts from now: the file's clock is another one
        for command_id, frame, ran in remembered:
            if ran:
                self._answered[command_id] = (frame, None, now)
                self._bytes += len(frame)
            else:
                self._refused[command_id] = frame
        self._forget()

    def finish(self, command_id: str, frame: str, stub: Optional[str] = None,
               ran: bool = True) -> int:
        """
        Record the answer; return how many deliveries it answers.

        `ran` says the handler was started; False is a refusal. `stub` is the short answer
        that may replace a large frame.
        """
        entry = self._running.pop(command_id, None)
        waiting = entry.waiting if entry is not None else 0
        if not ran:
            self._refused[command_id] = frame
            if len(self._refused) > self._refusals:
                self._refused.popitem(last=False)
            return 1 + waiting
        self._answered[command_id] = (frame, stub, self._clock())
        self._bytes += len(frame)
        if stub is not None:
            self._with_stub.append(command_id)
        self._forget()
        while self._bytes > self._max_bytes and self._with_stub:
            key = self._with_stub.popleft()
            kept, spare, when = self._answered.get(key, ('', None, 0.0))  # forgotten: no-op
            if spare is not None:
                self._answered[key] = (spare, None, when)
                self._bytes += len(spare) - len(kept)
        return 1 + waiting

    def _forget(self) -> None:
        """Drop the oldest executed ids that are both past the count and older than the age."""
        oldest = self._clock() - self._age
        while len(self._answered) > self._size:
            command_id, (frame, _, when) = next(iter(self._answered.items()))
            if when > oldest:
                break
            del self._answered[command_id]
            self._bytes -= len(frame)
        while self._with_stub and self._with_stub[0] not in self._answered:
            self._with_stub.popleft()
        while len(self._refused) > self._refusals:
            self._refused.popitem(last=False)
