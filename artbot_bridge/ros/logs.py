"""
Log lines for the hub: `/rosout`, `~/events` and the bridge's own reports.

A line is handed to the hub link's loop as it comes, from whichever thread it comes on. There,
and only there, the rate limit is applied, the recent lines are kept for `get_logs`, and the
line is queued for the hub: the limiter and the recent lines have one owner, the loop.
"""

from collections import deque
import json
from typing import Any, Callable, Deque, Dict, List

from rcl_interfaces.msg import Log
from std_msgs.msg import String

from ..core.builtins import MAX_LOG_LINES
from ..core.messages import HUB_LEVELS
from ..core.protocol import utc_timestamp
from ..core.ratelimit import RateLimiter

LOG_LEVELS = {'debug': Log.DEBUG, 'info': Log.INFO, 'warn': Log.WARN, 'error': Log.ERROR,
              'fatal': Log.FATAL}
LEVEL_NAMES = {value: name for name, value in LOG_LEVELS.items()}
MAX_LOG_CHARS = 2000  # a log line for the hub, not a file transfer


class LogForwarder:
    """Rate-limit log lines, keep the recent ones and queue them for the hub."""

    def __init__(self, call_soon: Callable[..., bool], send: Callable[..., None],
                 rate: float, min_level: str, own_logger: str) -> None:
        self._call_soon = call_soon  # LoopThread.call_soon: runs a function on the loop
        self._send = send  # HubClient.log_entry (loop thread)
        self._limit = RateLimiter(rate, 2 * rate)
        self._recent: Deque[Dict[str, Any]] = deque(maxlen=MAX_LOG_LINES)
        self._min_level = LOG_LEVELS.get(min_level, Log.FATAL + 1)  # 'none': nothing passes
        self._own_logger = own_logger

    # -- any thread ---------------------------------------------------------------------

    def forward(self, level: str, message: str, **extra: Any) -> None:
        """Send a log line to the hub, within the rate limit."""
        self._call_soon(self._take, level, message, extra, True)

    def report(self, level: str, message: str, **extra: Any) -> None:
        """Send one of the bridge's own reports to the hub, never refused."""
        self._call_soon(self._take, level, message, extra, False)

    # -- ROS callbacks (executor thread) ------------------------------------------------

    def on_event(self, msg: String) -> None:
        """Forward a `~/events` line; `{"level": "warn", "message": "..."}` carries a level."""
        level, text = 'info', msg.data
        if text.startswith('{'):
            try:
                event = json.loads(text)
            except (ValueError, RecursionError):  # anyone on the ROS domain can send this
                event = None
            if isinstance(event, dict) and isinstance(event.get('message'), str):
                text = event['message']
                level = str(event.get('level', 'info')).lower()
                level = level if level in HUB_LEVELS else 'info'
        self.forward(level, text, source='events')

    def on_rosout(self, msg: Log) -> None:
        """Forward a `/rosout` line at or above the level; the bridge's own lines stay out."""
        if msg.level >= self._min_level and msg.name != self._own_logger:
            self.forward(LEVEL_NAMES.get(msg.level, str(msg.level)), msg.msg,
                         logger=msg.name, source='rosout')

    # -- loop thread --------------------------------------------------------------------

    @property
    def refused(self) -> int:
        """Return how many lines the rate limit refused."""
        return self._limit.refused

    def recent(self, lines: int) -> List[Dict[str, Any]]:
        """Return the newest `lines` lines sent (or refused by nothing), oldest first."""
        return list(self._recent)[-lines:]

    def _take(self, level: str, message: str, extra: Dict[str, Any], limited: bool) -> None:
        if limited and not self._limit.allow():
            return
        if len(message) > MAX_LOG_CHARS:
            message = f'{message[:MAX_LOG_CHARS]}... ({len(message)} characters)'
        entry = {'level': level, 'message': message, 'timestamp': utc_timestamp(), **extra}
        self._recent.append(entry)
        self._send(**entry)
