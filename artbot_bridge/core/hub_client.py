"""
The link to the hub: register, connect, keep alive, reconnect forever, one socket at a time.

The hub forgets an agent whenever its socket closes, so every connection attempt starts with
`POST /api/agents/register`. Keepalive pings, the close handshake and frame size limits are
the `websockets` library's; this module adds what it does not do: registration before each
connect, the retry policy (`Backoff`), and the per-connection tasks (receive, send, telemetry).
"""

import asyncio
from collections import deque
from dataclasses import asdict, dataclass
from http.client import HTTPConnection, HTTPException, HTTPSConnection
import inspect
import json
import socket
import ssl
import time
from typing import Any, Callable, Deque, Dict, Optional, Tuple, TYPE_CHECKING, Union
from urllib.parse import urlsplit

import websockets

from .backoff import Backoff
from .loop_thread import in_daemon_thread
from .outbox import LOGS, Outbox, RESPONSES, STREAM
from .protocol import Command, encode, parse_command, ProtocolError
from .protocol import STATUS_FLIPPING_ACTIONS
from .ratelimit import RateLimiter
from .settings import Settings, SettingsError

if TYPE_CHECKING:  # sqlite3 is loaded only when an outbox file is configured
    from .spool import Spool


class RegistrationError(ConnectionError):
    """The hub did not accept the registration; `status` is the HTTP code when there was one."""

    def __init__(self, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class LinkStats:
    """What an operator wants to know about the link; read by diagnostics from any thread."""

    state: str = 'starting'
    url: str = ''
    attempts: int = 0
    connects: int = 0
    reconnects: int = 0
    last_error: str = ''
    rtt_ms: Optional[float] = None
    sent: int = 0
    received: int = 0
    bad_frames: int = 0
    resent: int = 0
    telemetry: bool = True
    connected_since: Optional[float] = None

    def snapshot(self) -> Dict[str, Any]:
        """Return a plain copy."""
        return asdict(self)


class Telemetry:
    """What the link asks of the robot side; both calls may block and run off the loop."""

    def heartbeat(self) -> Dict[str, Any]:
        """Return heartbeat data."""
        raise NotImplementedError

    def robot_status(self) -> Dict[str, Any]:
        """Return robot_status data."""
        raise NotImplementedError


def tls_context(settings: Settings) -> Optional[ssl.SSLContext]:
    """
    Return the client TLS context for https/wss hubs (None for plain ones).

    Certificate and hostname verification stay on: `create_default_context` does both. A CA
    file replaces the system CAs; a client certificate makes the link mutual TLS.
    """
    if not settings.ws_url.startswith('wss://'):
        return None
    try:
        context = ssl.create_default_context(cafile=settings.tls_ca_file or None)
    except (ssl.SSLError, OSError) as err:
        raise SettingsError(f"invalid parameter 'tls_ca_file': {err}") from None
    if settings.tls_cert_file:
        try:
            context.load_cert_chain(settings.tls_cert_file, settings.tls_key_file or None)
        except (ssl.SSLError, OSError) as err:
            raise SettingsError(f"invalid parameter 'tls_cert_file'/'tls_key_file': {err}") \
                from None
    return context


def auth_headers(settings: Settings) -> Dict[str, str]:
    """Return the Authorization header when a token is configured."""
    token = settings.hub_token.get_secret_value()
    return {'Authorization': f'Bearer {token}'} if token else {}


# websockets 14 renamed extra_headers to additional_headers; both spellings are in use.
_HEADERS_ARG = ('additional_headers' if 'additional_headers'
                in inspect.signature(websockets.connect).parameters else 'extra_headers')


def rejected_status(err: BaseException) -> Optional[int]:
    """Return the HTTP status of a refused registration or handshake, if there was one."""
    if isinstance(err, RegistrationError):
        return err.status
    response = getattr(err, 'response', None)
    return getattr(response, 'status_code', None) or getattr(err, 'status_code', None)


# A sent response or log line is kept until a pong proves the hub read past it (the hub's
# WebSocket reads frames in order, and a ping is answered once it is read): proof is asked
# when the queue runs dry, and at least every PROOF_EVERY frames under a steady flow.
DURABLE = (RESPONSES, LOGS)
PROOF_EVERY = 64
Unproven = Tuple[int, str, str, Optional[int]]  # (send number, frame, queue, spool row)

MAX_REPLY = 64 * 1024  # a registration answer is a few dozen bytes; more is not read


class Registration:
    """
    One registration POST, run in a daemon thread, that the loop can cut short.

    `http.client` rather than `urllib`: it follows no redirect (a redirect would carry the
    bearer token to another host, or from https to plain http), and its socket can be shut
    down from the loop when the whole request outlives `open_timeout` (a socket timeout only
    bounds each read, and a hub that trickles its answer would hold it forever).
    """

    def __init__(self, url: str, timeout: float, headers: Dict[str, str],
                 context: Optional[ssl.SSLContext]) -> None:
        parts = urlsplit(url)
        if parts.scheme == 'https':
            self._connection: HTTPConnection = HTTPSConnection(
                parts.hostname, parts.port, timeout=timeout, context=context)
        else:
            self._connection = HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self._path = parts.path or '/'
        self._headers = {'Content-Type': 'application/json', **headers}

    def post(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """POST `body` and return the JSON answer; raise RegistrationError on any failure."""
        try:
            self._connection.request('POST', self._path, json.dumps(body).encode(),
                                     self._headers)
            response = self._connection.getresponse()
            reply = response.read(MAX_REPLY + 1)
        except (OSError, HTTPException) as err:
            raise RegistrationError(f'registration failed: {type(err).__name__}: {err}'
                                    .rstrip(': ')) from None
        finally:
            self._connection.close()
        status = response.status
        if 300 <= status < 400:
            raise RegistrationError(
                f'registration answered HTTP {status}, a redirect to '
                f"{response.getheader('Location', '?')!r}; redirects are not followed "
                '(set hub_url to where the hub is)', status)
        if status >= 400:
            detail = reply[:200].decode('utf-8', 'replace')
            raise RegistrationError(f'registration refused: HTTP {status} {detail}'.strip(),
                                    status)
        if len(reply) > MAX_REPLY:
            raise RegistrationError(f'registration answer over {MAX_REPLY} bytes; not read')
        try:
            answer = json.loads(reply or b'{}')
        except ValueError as err:
            raise RegistrationError(f'registration answer is not JSON: {err}') from None
        return answer if isinstance(answer, dict) else {}

    def cancel(self) -> None:
        """Cut the request short from another thread: its blocked read returns at once."""
        sock = self._connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def local_address(url: str) -> str:
    """Return this host's address on the route to `url` (no packet is sent)."""
    parts = urlsplit(url)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((parts.hostname or '127.0.0.1', parts.port or 80))
            return probe.getsockname()[0]
    except OSError:
        return '127.0.0.1'


class HubClient:
    """Keep one registered WebSocket to the hub until `stop()`."""

    def __init__(self, settings: Settings, telemetry: Telemetry, registration: Callable[[], Dict],
                 on_command: Callable[[Union[Command, ProtocolError]], None],
                 on_link: Callable[[bool], None], logger: Any,
                 spool: Optional['Spool'] = None) -> None:
        self.settings = settings
        self.stats = LinkStats(url=settings.ws_url)
        self.outbox = Outbox(settings.max_queued_responses, settings.max_queued_logs,
                             settings.max_queued_bytes, settings.max_queued_stream)
        self.spool = spool
        if spool is not None:
            self.outbox.on_drop = spool.remove
        self._telemetry = telemetry
        self._registration = registration
        self._on_command = on_command
        self._on_link = on_link
        self._log = logger
        self._backoff = Backoff(settings.reconnect_initial_delay, settings.reconnect_max_delay,
                                settings.reconnect_reset_after)
        self._tls = tls_context(settings)
        self._headers = auth_headers(settings)
        self._refusal_logged = ''
        self._drop_log = RateLimiter(0.2, 5.0)  # dropped-frame warnings: a burst, then 1 per 5 s
        self._unproven: Deque[Unproven] = deque()  # sent, not yet proven read, oldest first
        self._sends = 0  # durable frames sent, ever: the numbers in _unproven
        self._asked = 0  # the highest send number a ping in flight will prove
        # While the link is up, a command is read only while the answers of the commands still
        # running (`running()`, set by the owner of the dispatcher) and its own have room.
        self.running: Callable[[], int] = lambda: 0
        # Each heartbeat and robot_status frame as encoded, for the ROS side: (kind, frame).
        self.on_frame: Callable[[str, str], None] = lambda kind, frame: None
        self._ws: Any = None
        self._task: Optional[asyncio.Task] = None
        self._stopping = False
        self._redial_now = False  # the link was dropped on request: dial again at once
        self._wake = asyncio.Event()

    # -- outbound -------------------------------------------------------------------------

    def send_response(self, frame: str) -> None:
        """Queue an encoded command_response; it waits for the link if it is down."""
        self._queue(RESPONSES, frame)

    def log_entry(self, level: str, message: str, **extra: Any) -> None:
        """Queue one log line for the hub (the newest `max_queued_logs` wait for the link)."""
        data = {'level': level, 'message': message, **extra}
        self._queue(LOGS, encode('log_entry', self.settings.agent_id, data))

    def stream_frame(self, frame: str) -> None:
        """Queue one stream source frame (sent after everything else, never kept on disk)."""
        if self.stats.telemetry:
            self.outbox.put(STREAM, frame)

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
        """Register, connect and serve until stop(); reconnect after every failure."""
        self._task = asyncio.current_task()
        while not self._stopping:
            lived = 0.0
            penalty = False
            try:
                self.stats.state = 'registering'
                self.stats.attempts += 1
                await self._register()
                self.stats.state = 'connecting'
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
                        self._record_close(ws)
                        self._requeue_unproven()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: B902 - every failure means: wait, then redial
                penalty = rejected_status(err) in (401, 403)
                self.stats.last_error = str(err) if isinstance(err, RegistrationError) \
                    else f'{type(err).__name__}: {err}'
            finally:
                self._ws = None
                self.stats.connected_since = None
                self._on_link(False)
            if self._stopping:
                break
            if self._redial_now:  # ~/reconnect or the reconnect command: no wait, no failure
                self._redial_now = False
                self._wake.clear()
                self._log.info('reconnecting, as requested')
                continue
            delay = self._backoff.penalize() if penalty else self._backoff.next_delay(lived)
            self.stats.state = 'refused' if penalty else 'waiting'
            if not penalty:
                self._log.warning(f'hub link down ({self.stats.last_error}); retrying in '
                                  f'{delay:.1f} s (attempt {self.stats.attempts})')
            elif self._refusal_logged != self.stats.last_error:  # once, not every retry
                self._refusal_logged = self.stats.last_error
                self._log.error(f'the hub refused this agent ({self.stats.last_error}); check '
                                f'the token; retrying every {delay:.0f} s')
            await self._sleep(delay)
            self._wake.clear()
        self.stats.state = 'stopped'

    async def stop(self) -> None:
        """
        Close the socket cleanly (1001 going away) and end run(); safe to call twice.

        `close_timeout` bounds the whole close, the last proof included: a hub that stopped
        reading gets its connection dropped when it runs out.
        """
        self._stopping = True
        self._wake.set()
        ws = self._ws
        if ws is not None:
            try:
                await asyncio.wait_for(self._close(ws), self.settings.close_timeout)
            except asyncio.TimeoutError:
                self._log.warning(f'the hub did not complete the close within '
                                  f'{self.settings.close_timeout:g} s; connection dropped')
                ws.transport.abort()
        elif self._task is not None and self.stats.state in ('registering', 'connecting'):
            self._task.cancel()  # nothing to close yet; a retry wait ends through _wake

    async def _close(self, ws: Any) -> None:
        if self._unproven:  # a last proof, so that the next start does not send them again
            proof = await self._ask_proof(ws)
            if proof is not None:
                wait = self.settings.close_timeout / 4  # a stalled hub: leave time to close
                await asyncio.wait([proof], timeout=wait)
        await ws.close(1001, 'bridge shutting down')

    async def reconnect(self) -> None:
        """Drop the link (1000) or cut a retry wait short, and dial again at once."""
        self._backoff.failures = 0
        self._wake.set()
        if self._ws is not None:
            self._redial_now = True
            await self._ws.close(1000, 'reconnect requested')

    async def _sleep(self, delay: float) -> None:
        try:
            await asyncio.wait_for(self._wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _register(self) -> None:
        """Register; `open_timeout` bounds the whole request, however slowly the hub answers."""
        body = await in_daemon_thread(self._registration_body)
        timeout = self.settings.open_timeout
        request = Registration(self.settings.register_url, timeout, self._headers, self._tls)
        try:
            await asyncio.wait_for(in_daemon_thread(lambda: request.post(body)), timeout)
        except asyncio.TimeoutError:
            raise RegistrationError(f'registration took longer than open_timeout '
                                    f'({timeout:g} s)') from None
        finally:
            request.cancel()  # a request still running (timed out, or shutdown) ends now

    def _registration_body(self) -> Dict[str, Any]:
        body = self._registration()
        body.setdefault('ip_address', local_address(self.settings.http_url))
        return body

    # -- one connection ---------------------------------------------------------------------

    async def _serve(self, ws: Any) -> None:
        self._ws = ws
        self._refusal_logged = ''
        self.stats.connects += 1
        self.stats.reconnects = self.stats.connects - 1
        self.stats.connected_since = time.time()
        self.stats.state = 'connected'
        self._on_link(True)
        self._log.info(f'connected to {self.settings.ws_url}')
        self.outbox.clear_latest()
        tasks = [
            asyncio.ensure_future(self._receive(ws)),
            asyncio.ensure_future(self._send(ws)),
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

    def _record_close(self, ws: Any) -> None:
        code = getattr(ws, 'close_code', None)
        if code is not None and not self._stopping and not self._redial_now:
            reason = getattr(ws, 'close_reason', '') or ''
            self.stats.last_error = f'closed by hub: code {code} {reason}'.strip()

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

    async def _send(self, ws: Any) -> None:
        while True:
            frame, queue, row = await self.outbox.get()
            try:
                await ws.send(frame)
            except BaseException:
                if queue is not None:
                    self.outbox.requeue(queue, frame, row)
                raise
            self.stats.sent += 1
            if queue in DURABLE:
                self._sends += 1
                self._unproven.append((self._sends, frame, queue, row))
                if not (self.outbox.pending(RESPONSES) or self.outbox.pending(LOGS)) \
                        or self._sends - self._asked >= PROOF_EVERY:
                    await self._ask_proof(ws)

    async def _ask_proof(self, ws: Any) -> Optional['asyncio.Future']:
        """Ping; its pong proves that the hub read every frame sent before it."""
        upto = self._asked = self._sends
        try:
            pong = await ws.ping()
        except websockets.exceptions.WebSocketException:
            return None  # the link is going: what is unproven is sent again on the next one

        def proven(waiter: 'asyncio.Future') -> None:
            if waiter.cancelled() or waiter.exception() is not None:
                return
            while self._unproven and self._unproven[0][0] <= upto:
                row = self._unproven.popleft()[3]
                if row is not None:
                    self.spool.remove(row)
        pong.add_done_callback(proven)
        return pong

    def _requeue_unproven(self) -> None:
        """Put what the hub may not have read back at the front of the outbox, in order."""
        self.stats.resent += len(self._unproven)
        while self._unproven:
            _, frame, queue, row = self._unproven.pop()
            self.outbox.requeue(queue, frame, row)

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
        """Return a copy of the link's state and counters (reads only: any thread)."""
        return {**self.stats.snapshot(),
                'dropped_responses': self.outbox.dropped[RESPONSES],
                'dropped_logs': self.outbox.dropped[LOGS],
                'dropped_stream': self.outbox.dropped[STREAM],
                'queued': len(self.outbox), 'unproven': len(self._unproven)}
