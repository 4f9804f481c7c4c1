"""
The hub's log lines on the link's side: the rate limit, the recent lines, the queue.

Lines come from any thread (`/rosout`, `~/events`, the bridge's own reports) and are handed
to the link's loop. There, and only there, the rate limit is applied, the recent lines are kept
for `get_logs`, and the line is queued for the hub: the limiter and the recent lines have one
owner, the loop.
"""

from collections import deque
from typing import Any, Callable, Deque, Dict, List

from .protocol import utc_timestamp
from .ratelimit import RateLimiter

MAX_LOG_LINES = 500  # lines kept for `get_logs`, the most it returns
MAX_LOG_CHARS = 2000  # a log line for the hub, not a file transfer


class LogBook:
    """Rate-limit log lines, keep the recent ones and queue them for the hub (loop thread)."""

    def __init__(self, send: Callable[..., None], rate: float) -> None:
        self._send = send  # HubClient.log_entry
        self._limit = RateLimiter(rate, 2 * rate)
        self._recent: Deque[Dict[str, Any]] = deque(maxlen=MAX_LOG_LINES)

    @property
    def refused(self) -> int:
        """Return how many lines the rate limit refused."""
        return self._limit.refused

    def recent(self, lines: int) -> List[Dict[str, Any]]:
        """Return the newest `lines` lines sent, oldest first."""
        return list(self._recent)[-lines:]

    def take(self, level: str, message: str, extra: Dict[str, Any], limited: bool) -> None:
        """Queue one line for the hub; `limited`: within the rate limit (else never refused)."""
        if limited and not self._limit.allow():
            return
        if len(message) > MAX_LOG_CHARS:
            message = f'{message[:MAX_LOG_CHARS]}... ({len(message)} characters)'
        entry = {'level': level, 'message': message, 'timestamp': utc_timestamp(), **extra}
        self._recent.append(entry)
        self._send(**entry)
