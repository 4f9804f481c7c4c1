"""
Hub commands in, exactly one command_response out for each command id.

The dispatcher runs on the hub link's event loop. It checks a command against the allowlist
(the handlers it was given), the type (`system_command` needs an explicit entry) and what is
running and its age (a row's `max_age`, deadline.py), runs the handler as a task, and turns
every outcome (result, refusal, expiry, timeout, exception) into one response. The ledger
answers repeats without running anything twice, and is the one record of what runs.

With a journal (the outbox file), a command runs only once its id is stored as started, so a
command that a crash interrupted is never run again: after the restart, its id is answered
`success: false`, "interrupted by a restart; outcome unknown". The wait for the commit happens
off the loop: the journal's writer thread settles a future the command's task awaits.
"""

import asyncio
import time
from typing import Any, Awaitable, Callable, Collection, Dict, Iterable, Mapping, Optional
from typing import Protocol, Set, Tuple, Union

from .clock import HubClock
from .deadline import Deadline, expired
from .ledger import AGE, CommandLedger, SIZE
from .loop_thread import settle_from_thread
from .protocol import Command, command_response, ProtocolError
from .ratelimit import RateLimiter

Outcome = Tuple[bool, Dict[str, Any]]
Handler = Callable[[Command], Awaitable[Outcome]]
# A larger answer is kept for repeats with a stub, which replaces it when memory runs short.
KEEP_WHOLE_BYTES = 4096
# Characters of the message kept in the note that replaces an answer over the size limit.
NOTE_CHARS = 200
INTERRUPTED = 'interrupted by a restart; outcome unknown'


class Journal(Protocol):
    """Where command ids outlive the process: the outbox file (`spool.Spool`)."""

    def started(self, command_id: str, done: Callable[[], None]) -> None:
        """Store the id as started; call `done()` from any thread once it is stored."""

    def remember(self, command_id: str, frame: str, ran: bool = True) -> None:
        """Store the answer (`ran`: the handler was started; False for a refusal)."""


class CommandError(Exception):
    """A command that failed in an expected way; the message goes to the hub as is."""

    def __init__(self, message: str, **data: Any) -> None:
        super().__init__(message)
        self.data = data


class Dispatcher:
    """Route commands to handlers and guarantee one response per command id."""

    def __init__(self, agent_id: str, handlers: Dict[str, Handler],
                 send: Callable[[str], None], logger: Any, *,
                 exclusive: Collection[str] = (), system: Collection[str] = (),
                 ledger_size: int = SIZE, memory_age: float = AGE, per_minute: int = 600,
                 max_running: int = 32, max_bytes: int = 1024 * 1024,
                 hub_clock: Optional[HubClock] = None, deadlines: Mapping[str, Deadline] = {},
                 on_received: Optional[Callable[[Union[Command, ProtocolError]], None]] = None,
                 after_answer: Optional[Callable[[str], None]] = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.agent_id = agent_id
        self.handlers = handlers
        self.ledger = CommandLedger(ledger_size, age=memory_age, clock=clock)
        self.received = 0
        self.expired = 0  # answered `reason: expired`, not run
        self._hub_clock = hub_clock
        self._deadlines = dict(deadlines)
        self._send = send
        self._log = logger
        self._journal: Optional[Journal] = None
        self._exclusive = set(exclusive)
        self._system = set(system)
        self._rate = RateLimiter(per_minute / 60.0, per_minute, clock)
        self._max_running = max_running
        self._max_bytes = max_bytes
        self._tasks: Set[asyncio.Future] = set()
        self._on_received = on_received  # (command), once it is answered or running
        self._after_answer = after_answer  # (action), once answered

    def recover(self, journal: Journal,
                remembered: Iterable[Tuple[str, Optional[str], bool]]) -> int:
        """
        Keep ids in `journal` from now on, and load what it kept from an earlier run.

        `remembered` is (id, frame, ran), oldest first; a None frame is a command that started
        and was never answered: it is remembered as answered `success: false`, INTERRUPTED,
        in the journal too. Return how many were interrupted.
        """
        self._journal = journal
        rows, interrupted = [], 0
        for command_id, frame, ran in remembered:
            if frame is None:
                frame = command_response(self.agent_id, command_id, False,
                                         {'message': INTERRUPTED})
                journal.remember(command_id, frame)
                interrupted += 1
            rows.append((command_id, frame, ran))
        self.ledger.preload(rows)
        return interrupted

    @property
    def allowed(self) -> Tuple[str, ...]:
        """Return the actions this robot accepts, sorted."""
        return tuple(sorted(self.handlers))

    def on_command(self, item: Union[Command, ProtocolError]) -> None:
        """Take one inbound command (or an unparseable one that carries a command_id)."""
        self.received += 1
        if self._on_received is not None:  # after this call: the command goes out first
            asyncio.get_running_loop().call_soon(self._on_received, item)
        command_id = item.command_id
        new, frame = self.ledger.begin(command_id)
        if not new:
            if frame is not None:
                self._send(frame)  # a repeat of an answered command: the same answer again
            return
        if isinstance(item, ProtocolError):
            self._answer(command_id, False, {'message': item.reason}, ran=False)
            return
        age = self._hub_clock.age(item.timestamp) if self._hub_clock is not None else None
        refusal = self._refusal(item)
        if refusal:
            self._answer(command_id, False, {'message': refusal, 'allowed': list(self.allowed)},
                         item.action, ran=False)
            return
        deadline = self._deadlines.get(item.action)
        late = expired(age, deadline) if deadline is not None else None
        if late is not None:
            self.expired += 1
            self._answer(command_id, False, late, item.action, ran=False)
            return
        self.ledger.start(command_id, item.action)
        task = asyncio.ensure_future(self._run(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _refusal(self, command: Command) -> str:
        action = command.action
        if not self._rate.allow():
            return f'rate limit: more than {self._rate.burst:g} commands per minute'
        if action not in self.handlers:
            return f'unknown action {action!r}; allowed: {", ".join(self.allowed)}'
        if command.type == 'system_command' and action not in self._system:
            return (f'system_command {action!r} is not enabled on this robot '
                    f'(set {action}.system: true in its command table to allow it)')
        actions = self.ledger.actions()
        if len(actions) >= self._max_running:
            return f'too many commands running ({self._max_running}); try again later'
        running = sorted(set(actions))
        if running and (action in self._exclusive or self._exclusive & set(running)):
            return (f'busy: {", ".join(running)} running; {action!r} does not run alongside '
                    f'other commands')
        return ''

    async def _stored(self, command_id: str) -> None:
        """Return once the journal holds the id as started (at once without a journal)."""
        if self._journal is not None:
            stored = asyncio.get_running_loop().create_future()
            self._journal.started(command_id, lambda: settle_from_thread(stored))
            await stored

    async def _run(self, command: Command) -> None:
        try:
            await self._stored(command.command_id)
            success, data = await self.handlers[command.action](command)
        except CommandError as err:
            success, data = False, {'message': str(err), **err.data}
        except asyncio.CancelledError:
            success, data = False, {'message': 'bridge shutting down before the command ended'}
        except Exception as err:  # noqa: B902 - the hub gets an answer, never a crash
            self._log.error(f'command {command.action!r} failed: {type(err).__name__}: {err}')
            success, data = False, {'message': f'{command.action} failed: '
                                               f'{type(err).__name__}: {err}'}
        self._answer(command.command_id, success, data, command.action)

    def _answer(self, command_id: str, success: bool, data: Dict[str, Any],
                action: str = '', ran: bool = True) -> None:
        frame = command_response(self.agent_id, command_id, success, data)
        if len(frame) > self._max_bytes:
            first = str(data.get('message', ''))[:NOTE_CHARS]
            note = {'message': f'response of {len(frame)} bytes is over the limit of '
                               f'{self._max_bytes}; its data was dropped',
                    'truncated': True, 'first_message': first}
            frame = command_response(self.agent_id, command_id, success, note)
        stub = None
        if len(frame) > KEEP_WHOLE_BYTES:  # what a repeat gets once the answer is not kept
            stub = command_response(self.agent_id, command_id, success, {
                'message': 'answered before; that answer was too large to keep for repeats',
                'repeat': True})
        for _ in range(self.ledger.finish(command_id, frame, stub, ran)):
            self._send(frame)
        if self._journal is not None:
            self._journal.remember(command_id, stub or frame, ran)
        if self._after_answer is not None and action:
            self._after_answer(action)

    async def drain(self, timeout: float) -> None:
        """Wait up to `timeout` for running commands, then cancel them (each still answered)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=1.0)
