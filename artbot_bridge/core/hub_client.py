"""
The link to the hub: register, connect, keep alive, reconnect forever, one socket at a time.

The asyncio driver of `link.Link`, the state machine that decides every transition and wait:
this module does the I/O only. The hub forgets an agent whenever its socket closes, so every
connection attempt starts with `registration.register()`. With the echo proof, the hub's
dashboard feed is opened next, before the agent socket (`sockets.py`), so that no echo is
missed. Each connection runs its tasks: read commands (`inbound.Inbound`), send with
`delivery.Delivery`, read the feed, heartbeat and robot_status (`reporter.Reporter`), and a
watchdog of our own (`watchdog.watch`).
"""

import asyncio
import contextlib
import itertools
import random
import time
from typing import Any, Callable, Dict, Optional, TYPE_CHECKING, Union

from .backoff import Backoff
from .clock import HubClock
from .delivery import Delivery
from .feed import FeedReader
from .hub_lag import HubLag
from .inbound import Inbound
from .link import Action, Link, LinkStats
from .outbox import LOGS, Outbox, RESPONSES, STREAM
from .protocol import Command, encode, ProtocolError
from .registration import auth_headers, Exchange, register, tls_context
from .reporter import Reporter, Telemetry
from .settings import Settings
from .sockets import FeedError, Sockets
from .watchdog import drain, drop, watch

if TYPE_CHECKING:  # sqlite3 is loaded only when an outbox file is configured
    from .spool import Spool


class HubClient:
    """Keep one registered WebSocket to the hub until `stop()`."""

    def __init__(self, settings: Settings, telemetry: Telemetry, registration: Callable[[], Dict],
                 on_command: Callable[[Union[Command, ProtocolError]], None],
                 on_link: Callable[[bool], None], logger: Any,
                 spool: Optional['Spool'] = None, hub_clock: Optional[HubClock] = None, *,
                 running: Callable[[], int] = lambda: 0,
                 on_frame: Callable[[str, str], None] = lambda kind, frame: None) -> None:
        self.settings = settings
        self.hub_clock = hub_clock or HubClock()  # fed here, read by the dispatcher too
        self.stats = LinkStats(url=settings.ws_url)
        self._link = Link(Backoff(settings.reconnect_initial_delay, settings.reconnect_max_delay,
                                  settings.reconnect_reset_after), self.stats,
                          secrets=(settings.hub_token.get_secret_value(),))
        # Stream frames are paced by the hub's read backlog, probed with pings (no bound: none).
        lag = HubLag(settings.stream_max_age) if settings.stream_max_age else None
        self.outbox = Outbox(settings.max_queued_responses, settings.max_queued_logs,
                             settings.max_queued_bytes, settings.max_queued_stream,
                             settings.stream_max_age,
                             on_drop=spool.remove if spool is not None else lambda row: None,
                             lag=lag)
        self.spool = spool
        self._registration = registration
        self._on_link = on_link
        self._log = logger
        self._tls = tls_context(settings)
        self._headers = auth_headers(settings)
        self._sockets = Sockets(settings, self._tls, self._headers)
        self._echo = settings.delivery_proof == 'echo'
        self._delivery = Delivery(
            self.outbox, self.stats, spool, lag, echo=self._echo,
            grace=0.0 if self._echo else settings.ping_interval + settings.ping_timeout,
            window=(settings.max_queued_responses, settings.max_queued_bytes // 2))
        self.feed = FeedReader(settings.agent_id, self._delivery.echoed)
        # Numbers of the frames the feed echoes; they only grow, across restarts too.
        self._seq = itertools.count(int(time.time() * 1000)) if self._echo else None
        self._asked = False  # the next attempt was asked for (a reconnect request)
        self._running = running  # commands running (the dispatcher's count)
        self._inbound = Inbound(settings, self.outbox, self._delivery, self.stats, running,
                                on_command, logger, count_unproven=self._echo)
        self.telemetry_on = True  # heartbeat, robot_status and stream frames (~/set_telemetry)
        self._reporter = Reporter(settings, telemetry, self.outbox, self.stats, self.hub_clock,
                                  on_frame, self._next, lambda: self.telemetry_on, logger)
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
        if self.telemetry_on:
            self.outbox.put(STREAM, frame, born=born)

    def answered(self, action: str) -> None:
        """Send robot_status at once after an action the hub flips the robot's status on."""
        self._reporter.answered(action)

    def _next(self) -> Optional[int]:
        """Return the number of a frame the echo proof will track (None: pong proof)."""
        return next(self._seq) if self._seq is not None else None

    def _queue(self, queue: str, frame: str) -> None:
        row = self.spool.add(queue, frame) if self.spool is not None else None
        self.outbox.put(queue, frame, row)

    def set_telemetry(self, enabled: bool) -> None:
        """Pause or resume heartbeat, robot_status and stream frames."""
        self.telemetry_on = enabled

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
                    feed = await self._sockets.open_feed(stack) if self._echo else None
                    ws = await stack.enter_async_context(self._sockets.connect(
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
                link.failed(err, time.monotonic())
            finally:
                self._ws = None
                self._reporter.closed()
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

    def _clock_evidence(self, exchange: Optional[Exchange]) -> None:
        """Take the registration's `Date` as evidence of the hub's clock; warn once if far off."""
        if exchange is not None:
            self.hub_clock.registered(*exchange)
        warning = self.hub_clock.warning()
        if warning:
            self._log.warning(warning)

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
        inbound = self._inbound
        inbound.opened()
        self._on_link(True)
        self._log.info(f'connected to {self.settings.ws_url}')
        self.outbox.clear_latest()
        tasks = [
            asyncio.ensure_future(inbound.receive(ws)),
            asyncio.ensure_future(self._delivery.send(ws)),
            *self._reporter.tasks(ws),
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
                inbound.drain(True)
                self.outbox.freed()
                await drain(tasks[0], lambda: inbound.heard_at)
            if error is not None:
                await drop(ws, error, self.settings.close_timeout)
        finally:
            inbound.drain(False)
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
        while self._running() or len(self._delivery) or self.outbox.pending(RESPONSES):
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

    def snapshot(self) -> Dict[str, Any]:
        """Return a copy of the link's state and counters (loop thread: see LoopThread.ask)."""
        return {**self.stats.snapshot(), 'telemetry': self.telemetry_on,
                'dropped_responses': self.outbox.dropped[RESPONSES],
                'dropped_logs': self.outbox.dropped[LOGS],
                'dropped_stream': self.outbox.dropped[STREAM],
                'stale_stream': self.outbox.stale,
                'queued': len(self.outbox), 'unproven': len(self._delivery),
                'proof': self.settings.delivery_proof, **self.feed.snapshot()}
