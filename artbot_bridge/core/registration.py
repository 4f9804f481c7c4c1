"""
Registration with the hub (`POST /api/agents/register`) and the TLS set-up of the link.

The hub forgets an agent whenever its socket closes, so every connection attempt starts
with `register()`. A failure is a `RegistrationError` (defined with the link's state machine,
which classifies it), with the HTTP status when there was one.
"""

import asyncio
from http.client import HTTPConnection, HTTPException, HTTPSConnection
import json
import socket
import ssl
import time
from typing import Any, Callable, Dict, NamedTuple, Optional
from urllib.parse import urlsplit

from .errors import brief, clip
from .link import RegistrationError
from .loop_thread import in_daemon_thread
from .settings import Settings, SettingsError

MAX_REPLY = 64 * 1024  # a registration answer is a few dozen bytes; more is not read


class Exchange(NamedTuple):
    """The answer's `Date` header, and when the request went out and the answer came in."""

    date: Optional[str]
    sent: float  # time.monotonic()
    received: float


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
        # The token, never shown: an error page that echoes the request shows *** instead.
        self._secrets = tuple(value.split()[-1] for name, value in headers.items()
                              if name.lower() == 'authorization' and value.split())
        self.exchange: Optional[Exchange] = None  # set by a successful post()

    def post(self, body: Dict[str, Any]) -> Dict[str, Any]:
        """POST `body` and return the JSON answer; raise RegistrationError on any failure."""
        try:
            self._connection.connect()  # the exchange's times leave the TCP handshake out
            sent = time.monotonic()
            self._connection.request('POST', self._path, json.dumps(body).encode(),
                                     self._headers)
            response = self._connection.getresponse()
            received = time.monotonic()
            reply = response.read(MAX_REPLY + 1)
        except (OSError, HTTPException) as err:
            raise RegistrationError(clip(f'registration failed: {type(err).__name__}: {err}'
                                         .rstrip(': '), secrets=self._secrets)) from None
        finally:
            self._connection.close()
        status = response.status
        if 300 <= status < 400:
            location = clip(response.getheader('Location', '?'), 200, self._secrets)
            raise RegistrationError(
                f'registration answered HTTP {status}, a redirect to {location!r}; redirects '
                'are not followed (set hub_url to where the hub is)', status)
        if status >= 400:  # one short line: nginx's whole 502 page, or an echoed token, is not
            detail = brief(reply, self._secrets)
            raise RegistrationError(f'registration refused: HTTP {status}: {detail}'
                                    .rstrip(': '), status)
        if len(reply) > MAX_REPLY:
            raise RegistrationError(f'registration answer over {MAX_REPLY} bytes; not read')
        try:
            answer = json.loads(reply or b'{}')
        except ValueError as err:
            raise RegistrationError(f'registration answer is not JSON: {err}') from None
        self.exchange = Exchange(response.getheader('Date'), sent, received)
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


async def register(settings: Settings, headers: Dict[str, str],
                   context: Optional[ssl.SSLContext],
                   registration: Callable[[], Dict[str, Any]]) -> Optional[Exchange]:
    """
    Register the body `registration()` returns (its ip_address filled in when missing).

    `open_timeout` bounds the whole request, however slowly the hub answers. Return the
    exchange: the hub's `Date` and the request's times, evidence of the hub's clock.
    """
    def registration_body() -> Dict[str, Any]:
        body = registration()
        body.setdefault('ip_address', local_address(settings.http_url))
        return body

    body = await in_daemon_thread(registration_body)
    timeout = settings.open_timeout
    request = Registration(settings.register_url, timeout, headers, context)
    try:
        await asyncio.wait_for(in_daemon_thread(lambda: request.post(body)), timeout)
    except asyncio.TimeoutError:
        raise RegistrationError(f'registration took longer than open_timeout '
                                f'({timeout:g} s)') from None
    finally:
        request.cancel()  # a request still running (timed out, or shutdown) ends now
    return request.exchange
