"""
The link to the hub: register, connect, keep alive, reconnect forever, one socket at a time.

The asyncio driver of `link.Link`, the state machine that decides every transition and wait:
this module does the I/O only. The hub forgets an agent whenever its socket closes, so every
connection attempt starts with `registration.register()`. Keepalive pings, the close
handshake and frame size limits are the `websockets` library's; this module adds the
per-connection tasks (receive, send with `delivery.Delivery`, heartbeat, robot_status).
"""

import asyncio
import inspect
import time
from typing import Any, Callable, Dict, Optional, TYPE_CHECKING, Union

import websockets

from .backoff import Backoff
from .delivery import Delivery
from .link import Action, Link, LinkStats
from .link import RegistrationError  # noqa: F401 - re-exported: it was defined here
from .loop_thread import in_daemon_thread
from .outbox import LOGS, Outbox, RESPONSES, STREAM
from .protocol import Command, encode, parse_command, ProtocolError
from .protocol import STATUS_FLIPPING_ACTIONS
from .ratelimit import RateLimiter
from .registration import auth_headers, register, tls_context
from .settings import Settings

if TYPE_CHECKING:  # sqlite3 is loaded only when an outbox file is configured
    from .spool import Spool


class Telemetry:
    """What the link asks of the robot side; both calls may block and run off the loop."""

    def heartbeat(self) -> Dict[str, Any]:
        """Return heartbeat data."""
        raise NotImplementedError

    def robot_status(self) -> Dict[str, Any]:
        """Return robot_status data."""
        raise NotImplementedError


# websockets 14 renamed extra_headers to additional_headers; both spellings are in use.
_HEADERS_ARG = ('additional_headers' if 'additional_headers'
                in inspect.signature(websockets.connect).parameters else 'extra_headers')


class HubClient:
    """Keep one registered WebSocket to the hub until `stop()`."""

    def __init__(self, settings: Settings, telemetry: Telemetry, registration: Callable[[], Dict],
                 on_command: Callable[[Union[Command, ProtocolError]], None],
                 on_link: Callable[[bool], None], logger: Any,
                 spool: Optional['Spool'] = None) -> None:
        self.settings = settings
        self.stats = LinkStats(url=settings.ws_url)
        self._link = Link(Backoff(settings.reconnect_initial_delay, settings.reconnect_max_delay,
                                  settings.reconnect_reset_after), self.stats)
        self.outbox = Outbox(settings.max_queued_responses, settings.max_queued_logs,
                             settings.max_queued_bytes, settings.max_queued_stream,
                             settings.stream_max_age)
        self.spool = spool
        if spool is not None:
            self.outbox.on_drop = spool.remove
        self._telemetry = telemetry
        self._registration = registration
        self._on_command = on_command
        self._on_link = on_link
        self._log = logger
        self._tls = tls_context(settings)
        self._headers = auth_headers(settings)
        self._drop_log = RateLimiter(0.2, 5.0)  # dropped-frame warnings: a burst, then 1 per 5 s
        self._delivery = Delivery(self.outbox, self.stats, spool, settings.stream_max_age)
        # While the link is up, a command is read only while the answers of the commands still
        # running (`running()`, set by the owner of the dispatcher) and its own have room.
        self.running: Callable[[], int] = lambda: 0
        # Each heartbeat and robot_status frame as encoded, for the ROS side: (kind, frame).
        self.on_frame: Callable[[str, str], None] = lambda kind, frame: None
        self._ws: Any = None
        self._task: Optional[asyncio.Task] = None
        self._wake = asyncio.Event()

    # -- outbound -------------------------------------------------------------------------

    def send_response(self, frame: str) -> None:
        """Queue an encoded command_response; it waits for the link if it is down."""
        self._queue(RESPONSES, frame)

    def log_entry(self, level: str, message: str, **extra: Any) -> None:
        """Queue one log line for the hub (the newest `max_queued_logs` wait for the link)."""
        data = {'level': level, 'message': message, **extra}
        self._queue(LOGS, encode('log_entry', self.settings.agent_id, data))

    def stream_frame(self, frame: str, born: Optional[float] = None) -> None:
        """
        Queue one stream source frame (sent after everything else, never kept on disk).

        `born`: when its message arrived (time.monotonic); past `stream_max_age` it is dropped.
        """
        if self.stats.telemetry:
            self.outbox.put(STREAM, frame, born=born)

    def answered(self, action: str) -> None:
        """Send robot_status at once after an action the hub flips the robot's status on."""
        if action in STATUS_FLIPPING_ACTIONS and self._ws is not None:
            asyncio.ensure_future(self._status())

    def _queue(self, queue: str, frame: str) -> None:
        row = self.spool.add(queue, frame) if self.spool is not None else None
        self.outbox.put(queue, frame, row)

    def set_telemetry(self, enabled: bool) -> None:
        """Pause or resume heartbeat, robot_status and stream frames."""
        self.stats.telemetry = enabled

    # -- lifecycle --------------------------------------------------------------------------

    async def run(self) -> None:
        """Register, connect and serve until stop(); `Link` decides each transition and wait."""
        self._task = asyncio.current_task()
        link = self._link
        while not link.stopping:
            lived, error = 0.0, None
            try:
                link.attempt()
                await register(self.settings, self._headers, self._tls, self._registration)
                link.registered()
                async with websockets.connect(
                        self.settings.ws_url, ssl=self._tls,
                        **{_HEADERS_ARG: self._headers or None},
                        open_timeout=self.settings.open_timeout,
                        ping_interval=self.settings.ping_interval,
                        ping_timeout=self.settings.ping_timeout,
                        close_timeout=self.settings.close_timeout,
                        max_size=self.settings.max_message_size) as ws:
                    started = time.monotonic()
                    try:
                        await self._serve(ws)
                    finally:
                        lived = time.monotonic() - started
                        link.hub_closed(getattr(ws, 'close_code', None),
                                        getattr(ws, 'close_reason', '') or '')
                        self._delivery.requeue_unproven()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: B902 - link.failed() classifies every failure
                error = err
                link.failed(err)
            finally:
                self._ws = None
                self.stats.connected_since = None
                self._on_link(False)
            step = link.closed(lived)
            if step.action is Action.STOP:
                break
            if step.action is Action.FAIL:
                raise error
            if step.action is Action.REDIAL:  # ~/reconnect or the reconnect command
                self._wake.clear()
                self._log.info('reconnecting, as requested')
                continue
            if step.action is Action.RETRY:
                self._log.warning(f'hub link down ({self.stats.last_error}); retrying in '
                                  f'{step.delay:.1f} s (attempt {self.stats.attempts})')
            elif step.log:  # a refusal: once, not every retry
                self._log.error(f'the hub refused this agent ({self.stats.last_error}); check '
                                f'the token; retrying every {step.delay:.0f} s')
            await self._sleep(step.delay)
            self._wake.clear()
        link.stopped()

    async def stop(self) -> None:
        """
        Close the socket cleanly (1001 going away) and end run(); safe to call twice.

        `close_timeout` bounds the whole close, the last proof included: a hub that stopped
        reading gets its connection dropped when it runs out.
        """
        cancel = self._link.stop()
        self._wake.set()
        ws = self._ws
        if ws is not None:
            try:
                await asyncio.wait_for(self._close(ws), self.settings.close_timeout)
            except asyncio.TimeoutError:
                self._log.warning(f'the hub did not complete the close within '
                                  f'{self.settings.close_timeout:g} s; connection dropped')
                ws.transport.abort()
        elif self._task is not None and cancel:
            self._task.cancel()  # nothing to close yet; a retry wait ends through _wake

    async def _close(self, ws: Any) -> None:
        if self._delivery:  # a last proof, so that the next start does not send them again
            proof = await self._delivery.ask_proof(ws)
            if proof is not None:
                wait = self.settings.close_timeout / 4  # a stalled hub: leave time to close
                await asyncio.wait([proof], timeout=wait)
        await ws.close(1001, 'bridge shutting down')

    async def reconnect(self) -> None:
        """Drop the link (1000) or cut a retry wait short, and dial again at once."""
        self._wake.set()
        if self._link.redial():  # connected: the socket's end is then no failure
            await self._ws.close(1000, 'reconnect requested')

    async def _sleep(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    # -- one connection ---------------------------------------------------------------------

    async def _serve(self, ws: Any) -> None:
        self._ws = ws
        self._link.connected()
        self.stats.connected_since = time.time()
        self._on_link(True)
        self._log.info(f'connected to {self.settings.ws_url}')
        self.outbox.clear_latest()
        tasks = [
            asyncio.ensure_future(self._receive(ws)),
            asyncio.ensure_future(self._delivery.send(ws)),
            asyncio.ensure_future(self._every(self.settings.heartbeat_interval, self._heartbeat)),
            asyncio.ensure_future(self._every(self.settings.monitor_interval, self._status)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()

    async def _receive(self, ws: Any) -> None:
        async for frame in ws:
            self.stats.received += 1
            try:
                command: Union[Command, ProtocolError] = parse_command(frame)
            except ProtocolError as err:
                self.stats.bad_frames += 1
                if err.command_id is None:
                    if self._drop_log.allow():
                        self._log.warning(f'dropped an inbound frame: {err.reason} '
                                          f'({self.stats.bad_frames} so far)')
                    continue
                command = err  # still answered, with the reason
            # A flood of commands waits here, in the socket, rather than losing answers.
            await self.outbox.room(RESPONSES, self.running)
            try:
                self._on_command(command)
            except Exception as err:  # noqa: B902 - a broken handler must not end the link
                self._log.error(f'command handler failed: {type(err).__name__}: {err}')

    @staticmethod
    async def _every(interval: float, produce: Callable[[], Any]) -> None:
        while True:
            await produce()
            await asyncio.sleep(interval)

    async def _heartbeat(self) -> None:
        if not self.stats.telemetry:
            return
        data = await self._sample(self._telemetry.heartbeat, 'heartbeat')
        if data is not None:
            data['rtt_ms'] = await self._measure_rtt()
            self._telemetry_frame('heartbeat', data)

    async def _status(self) -> None:
        if not self.stats.telemetry:
            return
        data = await self._sample(self._telemetry.robot_status, 'robot_status')
        if data is not None:
            self._telemetry_frame('robot_status', data)

    def _telemetry_frame(self, kind: str, data: Dict[str, Any]) -> None:
        frame = encode(kind, self.settings.agent_id, data)
        self.outbox.put_latest(kind, frame)
        self.on_frame(kind, frame)

    async def _sample(self, produce: Callable[[], Dict[str, Any]],
                      kind: str) -> Optional[Dict[str, Any]]:
        try:
            return await in_daemon_thread(produce)
        except Exception as err:  # noqa: B902 - a bad sample skips one message, not the link
            self._log.error(f'could not build {kind}: {type(err).__name__}: {err}')
            return None

    async def _measure_rtt(self) -> Optional[float]:
        """
        Ping once and return the latest round trip in ms.

        Keepalive pings come too rarely to report. The heartbeat waits at most a second for
        this pong: on a congested link it goes out with the previous measurement, and the
        pong updates `stats.rtt_ms` whenever it comes.
        """
        started = time.monotonic()

        def record(pong: 'asyncio.Future') -> None:
            if not pong.cancelled() and pong.exception() is None:
                self.stats.rtt_ms = round((time.monotonic() - started) * 1000, 2)

        try:
            pong = await self._ws.ping()
        except websockets.exceptions.WebSocketException:
            return self.stats.rtt_ms  # keepalive decides whether the link is dead
        pong.add_done_callback(record)
        await asyncio.wait([pong], timeout=min(1.0, self.settings.ping_timeout))
        return self.stats.rtt_ms

    def snapshot(self) -> Dict[str, Any]:
        """Return a copy of the link's state and counters (loop thread: see LoopThread.ask)."""
        return {**self.stats.snapshot(),
                'dropped_responses': self.outbox.dropped[RESPONSES],
                'dropped_logs': self.outbox.dropped[LOGS],
                'dropped_stream': self.outbox.dropped[STREAM],
                'stale_stream': self.outbox.stale,
                'queued': len(self.outbox), 'unproven': len(self._delivery)}
