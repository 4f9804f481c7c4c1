"""
The link to the hub: register, connect, keep alive, reconnect forever, one socket at a time.

The asyncio driver of `link.Link`, the state machine that decides every transition and wait:
this module does the I/O only. The hub forgets an agent whenever its socket closes, so every
connection attempt starts with `registration.register()`. With the echo proof, the hub's
dashboard feed is opened next, before the agent socket, so that no echo is missed. Keepalive
pings, the close handshake and frame size limits are the `websockets` library's; this module
adds the per-connection tasks (receive, send with `delivery.Delivery`, read the feed,
heartbeat, robot_status) and a watchdog of its own (`watchdog.watch`).
"""

import asyncio
from collections import deque
import contextlib
import inspect
import itertools
import random
import time
from typing import Any, Callable, Deque, Dict, Optional, Tuple, TYPE_CHECKING, Union

import websockets

from .backoff import Backoff
from .clock import HubClock
from .delivery import Delivery
from .feed import FeedReader
from .link import Action, Link, LinkStats
from .link import RegistrationError  # noqa: F401 - re-exported: it was defined here
from .loop_thread import in_daemon_thread
from .outbox import LOGS, Outbox, RESPONSES, STREAM
from .protocol import Command, encode, parse_command, ProtocolError
from .protocol import STATUS_FLIPPING_ACTIONS
from .ratelimit import RateLimiter
from .registration import auth_headers, Exchange, register, tls_context
from .settings import Settings
from .watchdog import drain, drop, watch

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
# The feed carries every robot's frames, which the hub takes up to 16 MiB each.
FEED_MAX_SIZE = 17 * 2 ** 20


class FeedError(ConnectionError):
    """The hub's dashboard feed, which the echo proof needs, did not open or closed."""


class HubClient:
    """Keep one registered WebSocket to the hub until `stop()`."""

    def __init__(self, settings: Settings, telemetry: Telemetry, registration: Callable[[], Dict],
                 on_command: Callable[[Union[Command, ProtocolError]], None],
                 on_link: Callable[[bool], None], logger: Any,
                 spool: Optional['Spool'] = None, hub_clock: Optional[HubClock] = None) -> None:
        self.settings = settings
        self.hub_clock = hub_clock or HubClock()  # fed here, read by the dispatcher too
        self.stats = LinkStats(url=settings.ws_url)
        self._link = Link(Backoff(settings.reconnect_initial_delay, settings.reconnect_max_delay,
                                  settings.reconnect_reset_after), self.stats,
                          secrets=(settings.hub_token.get_secret_value(),))
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
        self._echo = settings.delivery_proof == 'echo'
        self._delivery = Delivery(
            self.outbox, self.stats, spool, settings.stream_max_age, echo=self._echo,
            grace=0.0 if self._echo else settings.ping_interval + settings.ping_timeout,
            window=(settings.max_queued_responses, settings.max_queued_bytes // 2))
        self.feed = FeedReader(settings.agent_id, self._delivery.echoed)
        # Numbers of the frames the feed echoes; they only grow, across restarts too.
        self._seq = itertools.count(int(time.time() * 1000)) if self._echo else None
        self._heard_at = 0.0  # when the agent socket last brought a frame
        self._rtt_waited = False  # the first heartbeat has waited for its round trip
        self._draining = False  # the socket ends: read what arrived, whatever the room
        self._asked = False  # the next attempt was asked for (a reconnect request)
        # Commands read as a link ended that had no room yet: run first on the next link.
        self._held: Deque[Union[Command, ProtocolError]] = deque()
        # While the link is up, a command is read only while its answer fits, at its largest,
        # beside the answers of the commands still running (`running()`, set by the owner of
        # the dispatcher) and the frames sent and not proven yet (`_coming`).
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
        self._queue(LOGS, encode('log_entry', self.settings.agent_id, data, seq=self._next()))

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

    def _next(self) -> Optional[int]:
        """Return the number of a frame the echo proof will track (None: pong proof)."""
        return next(self._seq) if self._seq is not None else None

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
        attempted = float('-inf')
        while not link.stopping:
            if self._asked:  # two attempts a request cut short are reconnect_initial_delay apart
                self._asked = False
                gap = attempted + self.settings.reconnect_initial_delay - time.monotonic()
                if gap > 0:
                    await asyncio.sleep(gap)
                    continue
            attempted = time.monotonic()
            lived, error = 0.0, None
            try:
                link.attempt()
                exchange = await register(self.settings, self._headers, self._tls,
                                          self._registration)
                self._clock_evidence(exchange)
                link.registered()
                async with contextlib.AsyncExitStack() as stack:
                    feed = await self._open_feed(stack) if self._echo else None
                    ws = await stack.enter_async_context(self._connect(
                        self.settings.ws_url, self.settings.max_message_size))
                    started = time.monotonic()
                    try:
                        await self._serve(ws, feed)
                    finally:
                        lived = time.monotonic() - started
                        code = getattr(ws, 'close_code', None)
                        link.hub_closed(code, getattr(ws, 'close_reason', '') or '',
                                        time.monotonic())
                        self._delivery.requeue_unproven(abnormal=code not in (1000, 1001))
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: B902 - link.failed() classifies every failure
                error = err
                link.failed(err)
            finally:
                self._ws = None
                self.stats.connected_since = None
                self._on_link(False)
            step = link.closed(lived, time.monotonic())
            if step.action is Action.STOP:
                break
            if step.action is Action.FAIL:
                raise error
            if step.action is Action.REDIAL:  # ~/reconnect or the reconnect command
                self._asked = True
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

    def _clock_evidence(self, exchange: Exchange) -> None:
        """Take the registration's `Date` as evidence of the hub's clock; warn once if far off."""
        self.hub_clock.registered(*exchange)
        warning = self.hub_clock.warning()
        if warning:
            self._log.warning(warning)

    def _connect(self, url: str, max_size: int) -> Any:
        """Return websockets' connect for `url`, with the link's settings."""
        settings = self.settings
        return websockets.connect(
            url, ssl=self._tls, **{_HEADERS_ARG: self._headers or None},
            open_timeout=settings.open_timeout, ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout, close_timeout=settings.close_timeout,
            max_size=max_size)

    async def _open_feed(self, stack: contextlib.AsyncExitStack) -> Any:
        """Open the hub's dashboard feed (closed with `stack`), or raise FeedError."""
        url = self.settings.feed_url
        try:
            return await stack.enter_async_context(self._connect(url, FEED_MAX_SIZE))
        except Exception as err:  # noqa: B902 - every failure: one line and a retry
            raise FeedError(f"the hub's dashboard feed {url} did not open "
                            f'({type(err).__name__}: {err}); a hub without it needs '
                            f'delivery_proof: pong') from err

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
            # A stalled hub: leave time to close.
            await self._delivery.settle(ws, self.settings.close_timeout / 4)
        await ws.close(1001, 'bridge shutting down')

    async def reconnect(self) -> None:
        """Drop the link (1000) or cut a retry wait short, and dial again at once."""
        self._wake.set()
        if self._link.redial():  # connected: the socket's end is then no failure
            await self._ws.close(1000, 'reconnect requested')

    async def _sleep(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
            self._asked = True  # cut short by a request (or stop)
        except asyncio.TimeoutError:
            pass

    # -- one connection ---------------------------------------------------------------------

    async def _serve(self, ws: Any, feed: Any) -> None:
        self._ws = ws
        self._link.connected()
        self.stats.connected_since = time.time()
        self._heard_at = time.monotonic()
        self._on_link(True)
        self._log.info(f'connected to {self.settings.ws_url}')
        self.outbox.clear_latest()
        tasks = [
            asyncio.ensure_future(self._receive(ws)),
            asyncio.ensure_future(self._delivery.send(ws)),
            asyncio.ensure_future(self._every(self.settings.heartbeat_interval, self._heartbeat)),
            asyncio.ensure_future(self._every(self.settings.monitor_interval, self._status)),
            asyncio.ensure_future(watch(
                ws, self._delivery, self.stats, self.settings.echo_bound if self._echo else 0,
                self.settings.ping_timeout)),
        ]
        if feed is not None:
            tasks.append(asyncio.ensure_future(self._read_feed(feed)))
        if self.settings.max_link_age:
            tasks.append(asyncio.ensure_future(self._age_out()))
        error = None
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            errors = [task.exception() for task in done if not task.cancelled()]
            error = next((err for err in errors if err is not None), None)
            if not self._link.stopping:  # commands that already arrived are read, not lost
                self._draining = True
                self.outbox.freed()
                await drain(tasks[0], lambda: self._heard_at)
            if error is not None:
                await drop(ws, error, self.settings.close_timeout)
        finally:
            self._draining = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if error is not None:
            raise error

    async def _age_out(self) -> None:
        """
        Redial a link older than `max_link_age` (less up to a tenth), once nothing is in flight.

        Behind a reverse proxy, a socket holds the proxy worker that accepted it for as long
        as it lives: after `nginx -s reload` (every certificate renewal), an old worker with
        its old certificate and configuration. A clean close at a quiet moment (no command
        running, nothing unproven or queued) lets the new one take over; the jitter keeps a
        fleet from redialling at once.
        """
        await asyncio.sleep(self.settings.max_link_age * (1.0 - 0.1 * random.random()))
        while self.running() or len(self._delivery) or self.outbox.pending(RESPONSES):
            await asyncio.sleep(0.5)
        hours = self.settings.max_link_age / 3600
        self._log.info(f'the link is {hours:.3g} h old: closing it cleanly and dialling again '
                       f'(max_link_age), so that no old proxy worker holds it')
        await self.reconnect()
        await asyncio.Event().wait()  # the socket's end ends the connection

    async def _read_feed(self, feed: Any) -> None:
        read = self.feed.read
        async for frame in feed:
            read(frame)
        raise FeedError(f'the hub closed its dashboard feed (code {feed.close_code})')

    async def _receive(self, ws: Any) -> None:
        while self._held and not self._draining:  # read as an earlier link ended: first
            await self._room()
            if not self._draining:
                self._dispatch(self._held.popleft())
        async for frame in ws:
            self.stats.received += 1
            self._heard_at = time.monotonic()
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
            await self._room()
            if self._draining and self._held_room() and not self.outbox.has_room(
                    RESPONSES, *self._coming(), self.settings.max_response_bytes):
                self._held.append(command)  # the link ends: kept, run on the next one
                continue
            self._dispatch(command)

    async def _room(self) -> None:
        """Wait until the next command's answer fits, or the link ends (`_draining`)."""
        await self.outbox.room(RESPONSES, self._coming, self.settings.max_response_bytes,
                               lambda: self._draining)

    def _held_room(self) -> bool:
        return len(self._held) < self.settings.max_queued_responses

    def _dispatch(self, command: Union[Command, ProtocolError]) -> None:
        try:
            self._on_command(command)
        except Exception as err:  # noqa: B902 - a broken handler must not end the link
            self._log.error(f'command handler failed: {type(err).__name__}: {err}')

    def _coming(self) -> Tuple[int, int]:
        """Return (frames, bytes) on their way to the answer queue or still unproven."""
        running, delivery = self.running(), self._delivery
        return (running + len(delivery),
                running * self.settings.max_response_bytes + delivery.unproven_bytes)

    @staticmethod
    async def _every(interval: float, produce: Callable[[], Any]) -> None:
        """Produce at once, then every `interval` on a fixed schedule (a slow one skips)."""
        due = time.monotonic()
        while True:
            await produce()
            due = max(due + interval, time.monotonic())
            await asyncio.sleep(due - time.monotonic())

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
        seq = self._next() if kind == 'robot_status' else None
        frame = encode(kind, self.settings.agent_id, data, seq=seq)
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

        Keepalive pings come too rarely to report. The heartbeat goes out at once with the
        last measurement, and this ping's pong updates `stats.rtt_ms` whenever it comes, for
        the next one; only the very first heartbeat waits for its pong, a second at most.
        """
        started = time.monotonic()

        def record(pong: 'asyncio.Future') -> None:
            if not pong.cancelled() and pong.exception() is None:
                self.hub_clock.round_trip(time.monotonic() - started)
                self.stats.rtt_ms = round((time.monotonic() - started) * 1000, 2)

        try:
            pong = await self._ws.ping()
        except websockets.exceptions.WebSocketException:
            return self.stats.rtt_ms  # keepalive decides whether the link is dead
        pong.add_done_callback(record)
        if not self._rtt_waited:
            self._rtt_waited = True
            await asyncio.wait([pong], timeout=min(1.0, self.settings.ping_timeout))
        return self.stats.rtt_ms

    def snapshot(self) -> Dict[str, Any]:
        """Return a copy of the link's state and counters (loop thread: see LoopThread.ask)."""
        return {**self.stats.snapshot(),
                'dropped_responses': self.outbox.dropped[RESPONSES],
                'dropped_logs': self.outbox.dropped[LOGS],
                'dropped_stream': self.outbox.dropped[STREAM],
                'stale_stream': self.outbox.stale,
                'queued': len(self.outbox), 'unproven': len(self._delivery),
                'proof': self.settings.delivery_proof, **self.feed.snapshot()}
