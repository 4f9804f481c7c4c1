"""
The link's two WebSockets, opened with its settings: the agent socket and the dashboard feed.

Keepalive pings, the close handshake and frame size limits are the `websockets` library's.
"""

import contextlib
import inspect
import ssl
from typing import Any, Dict, Optional

import websockets

from .settings import Settings

# websockets 14 renamed extra_headers to additional_headers; both spellings are in use.
_HEADERS_ARG = ('additional_headers' if 'additional_headers'
                in inspect.signature(websockets.connect).parameters else 'extra_headers')
# The feed carries every robot's frames, which the hub takes up to 16 MiB each.
FEED_MAX_SIZE = 17 * 2 ** 20


class FeedError(ConnectionError):
    """The hub's dashboard feed, which the echo proof needs, did not open or closed."""


class Sockets:
    """Open the agent socket and the feed with the link's timeouts, TLS and headers."""

    def __init__(self, settings: Settings, tls: Optional[ssl.SSLContext],
                 headers: Dict[str, str]) -> None:
        self._settings = settings
        self._tls = tls
        self._headers = headers

    def connect(self, url: str, max_size: int) -> Any:
        """Return websockets' connect for `url`, with the link's settings."""
        settings = self._settings
        return websockets.connect(
            url, ssl=self._tls, **{_HEADERS_ARG: self._headers or None},
            open_timeout=settings.open_timeout, ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout, close_timeout=settings.close_timeout,
            max_size=max_size)

    async def open_feed(self, stack: contextlib.AsyncExitStack) -> Any:
        """Open the hub's dashboard feed (closed with `stack`), or raise FeedError."""
        url = self._settings.feed_url
        try:
            return await stack.enter_async_context(self.connect(url, FEED_MAX_SIZE))
        except Exception as err:  # noqa: B902 - every failure: one line and a retry
            raise FeedError(f"the hub's dashboard feed {url} did not open "
                            f'({type(err).__name__}: {err}); a hub without it needs '
                            f'delivery_proof: pong') from err
