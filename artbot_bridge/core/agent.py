"""
The hub side of the bridge, assembled: the one place its parts are built and wired.

`HubAgent` is built from the settings, the robot (a `port.RobotPort`) and a logger. It owns
the loop thread and everything that lives on it: the hub client, the dispatcher and its
ledger, the built-in commands, the hub's clock, the log book and the outbox file. Each part
gets what it needs through its constructor; a part that must reach one built after it does
so through this object, the mediator.

Its face is thread-safe, for the ROS side to call from any thread: `start`, `stop`,
`reconnect`, `telemetry`, `log`, `report`, `stream_frame`/`fresh`/`call_soon` (the stream
path) and `snapshot`.
"""

import concurrent.futures
from typing import Any, Callable, Dict, Optional, Tuple, TYPE_CHECKING

from .builtin_actions import BuiltIns
from .clock import HubClock
from .dispatcher import Dispatcher
from .hub_client import HubClient
from .logbook import LogBook
from .loop_thread import LoopThread
from .port import RobotPort
from .settings import Settings

if TYPE_CHECKING:  # sqlite3 is loaded only when an outbox file is configured
    from .spool import Spool

DRAIN_SECONDS = 1.0  # what running commands get to finish at shutdown, before cancellation


class HubAgent:
    """The hub side: link, commands, clock and logs on one loop thread."""

    def __init__(self, settings: Settings, robot: RobotPort, logger: Any) -> None:
        self.settings = settings
        self._robot = robot
        self._log = logger
        self._loop = LoopThread()
        self._run: Any = None
        self.clock = HubClock()
        self.log_book = LogBook(self._log_entry, settings.log_rate)
        built_ins = BuiltIns(self._status, self.log_book.recent, self._reconnect)
        specs = settings.commands
        self.dispatcher = Dispatcher(
            settings.agent_id, {**built_ins.handlers(), **robot.handlers()}, self._answer,
            logger, exclusive=[c.name for c in specs if not c.concurrent],
            system=[c.name for c in specs if c.system],
            per_minute=settings.max_commands_per_minute,
            max_running=settings.max_concurrent_commands,
            max_bytes=settings.max_response_bytes, memory_age=settings.command_memory_age,
            hub_clock=self.clock, deadlines=robot.deadlines(),
            on_received=robot.received, after_answer=self._answered)
        self.spool, pending = self._open_spool()
        self.hub = HubClient(settings, robot, self._registration, self.dispatcher.on_command,
                             robot.link, logger, self.spool, self.clock,
                             running=self._running, on_frame=robot.sent)
        self.hub.outbox.preload(pending)

    def _open_spool(self) -> Tuple[Optional['Spool'], list]:
        """Open the outbox file; return it and the frames an earlier run left to deliver."""
        settings = self.settings
        if not settings.outbox_path:
            return None, []
        from .spool import Spool
        spool = Spool(settings.outbox_path, max_age=settings.command_memory_age)
        pending, remembered = spool.load()
        if spool.failed:
            self._log.error(f'outbox file: {spool.failed}')
        interrupted = self.dispatcher.recover(spool, remembered)
        self._log.info(
            f'outbox file {settings.outbox_path}: {len(pending)} frames to deliver, '
            f'{len(remembered) - interrupted} answered commands remembered, '
            f'{interrupted} interrupted by a restart (answered as such, never run again)')
        return spool, pending

    # -- wiring: the mediator's side of each part (loop thread) -----------------------------

    def _answer(self, frame: str) -> None:
        self.hub.send_response(frame)
        self._robot.sent('command_response', frame)

    def _answered(self, action: str) -> None:
        self.hub.answered(action)

    def _running(self) -> int:
        return self.dispatcher.ledger.running

    def _log_entry(self, **entry: Any) -> None:
        self.hub.log_entry(**entry)

    async def _reconnect(self) -> None:
        await self.hub.reconnect()

    def _registration(self) -> Dict[str, Any]:
        body = {'agent_id': self.settings.agent_id, **self._robot.registration()}
        body['robot_info'] = {'capabilities': list(self.dispatcher.allowed),
                              **body.get('robot_info', {})}
        return body

    def _status(self) -> Dict[str, Any]:
        return {**self._robot.status(), **self._counters()}

    def _counters(self) -> Dict[str, Any]:
        """Return what the loop owns: the link's state and the counters (loop thread)."""
        return {'link': self.hub.snapshot(), 'commands_received': self.dispatcher.received,
                'command_repeats': self.dispatcher.ledger.repeats,
                'commands_expired': self.dispatcher.expired, **self._robot.counters(),
                **self.clock.report(), 'log_lines_refused': self.log_book.refused}

    # -- the face: any thread ---------------------------------------------------------------

    @property
    def allowed(self) -> Tuple[str, ...]:
        """Return the actions this robot accepts, sorted."""
        return self.dispatcher.allowed

    def start(self) -> None:
        """Start the loop thread and the link."""
        self._loop.start()
        self._run = self._loop.submit(self.hub.run())

    def stop(self) -> None:
        """Answer or cancel running commands, end the robot's leases, close the link (1001)."""
        if self._loop.is_running and self._run is not None:
            try:
                self._loop.run(self.dispatcher.drain(DRAIN_SECONDS), timeout=3.0)
                self._loop.ask(self._robot.stopping)
                self._loop.run(self.hub.stop(), timeout=self.settings.close_timeout + 1.0)
                self._run.result(timeout=2.0)
            except concurrent.futures.CancelledError:
                pass  # stopped while registering or handshaking
            except Exception as err:  # noqa: B902 - shutdown goes on whatever happened
                self._log.warning(f'hub link did not close cleanly: {err}')
        self._loop.stop()
        if self.spool is not None:
            self.spool.close()

    def reconnect(self) -> None:
        """Drop the link and dial again."""
        self._loop.submit(self.hub.reconnect())

    def telemetry(self, enabled: bool) -> None:
        """Pause or resume heartbeat, robot_status and stream frames."""
        self._loop.call_soon(self.hub.set_telemetry, enabled)

    def log(self, level: str, message: str, **extra: Any) -> None:
        """Send a log line to the hub, within the rate limit."""
        self._loop.call_soon(self.log_book.take, level, message, extra, True)

    def report(self, level: str, message: str, **extra: Any) -> None:
        """Send one of the bridge's own reports to the hub, never refused."""
        self._loop.call_soon(self.log_book.take, level, message, extra, False)

    def call_soon(self, func: Callable[..., Any], *args: Any) -> bool:
        """Run `func(*args)` on the loop thread (the stream path's hand-off)."""
        return self._loop.call_soon(func, *args)

    def snapshot(self) -> Dict[str, Any]:
        """Return the link's state and the counters, made on the loop (LoopThreadError)."""
        return self._loop.ask(self._counters)

    def status(self) -> Dict[str, Any]:
        """Return what the `status` command answers, made on the loop (LoopThreadError)."""
        return self._loop.ask(self._status)

    # -- the stream path: loop thread -------------------------------------------------------

    def stream_frame(self, frame: str, born: Optional[float] = None) -> None:
        """Queue one stream frame (loop thread; see HubClient.stream_frame)."""
        self.hub.stream_frame(frame, born)

    def fresh(self, born: float) -> bool:
        """Return whether a stream message born then may still go (loop thread)."""
        return self.hub.outbox.fresh(born)
