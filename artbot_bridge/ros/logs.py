"""
Log lines for the hub from ROS: `/rosout` at or above a level, and everything on `~/events`.

This side only turns messages into lines; the hub side's log book (`core/logbook.py`) applies
the rate limit and keeps the recent lines, on the link's loop.
"""

import json
from typing import Callable

from rcl_interfaces.msg import Log
from std_msgs.msg import String

from ..core.messages import HUB_LEVELS

LOG_LEVELS = {'debug': Log.DEBUG, 'info': Log.INFO, 'warn': Log.WARN, 'error': Log.ERROR,
              'fatal': Log.FATAL}
LEVEL_NAMES = {value: name for name, value in LOG_LEVELS.items()}


class LogForwarder:
    """Turn `/rosout` and `~/events` messages into log lines (ROS callbacks, any thread)."""

    def __init__(self, log: Callable[..., None], min_level: str, own_logger: str) -> None:
        self._log = log  # HubAgent.log: (level, message, **extra), within the rate limit
        self._min_level = LOG_LEVELS.get(min_level, Log.FATAL + 1)  # 'none': nothing passes
        self._own_logger = own_logger

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
        self._log(level, text, source='events')

    def on_rosout(self, msg: Log) -> None:
        """Forward a `/rosout` line at or above the level; the bridge's own lines stay out."""
        if msg.level >= self._min_level and msg.name != self._own_logger:
            self._log(LEVEL_NAMES.get(msg.level, str(msg.level)), msg.msg,
                      logger=msg.name, source='rosout')
