"""
The hub's dashboard feed, read as proof of what the hub's application handled.

A pong proves only that the hub's WebSocket library read a frame: the real hub's agent reader
can be dead while its library keeps reading and ponging. The one application-level signal the
hub gives is its `/ws/dashboard` feed: its agent reader broadcasts each command_response,
robot_status (as robot_update) and log_entry (as log_message) it handled, in the order it
handled them. So an echo of one frame proves that frame, and every frame sent before it on
the same socket, was handled (or killed the reader, which then handles nothing later).

The feed carries every robot's traffic. A frame that does not name this agent is discarded
unread (a substring test on the raw text), and only counted. Of ours, each echo is turned
into the key the sender gave the frame (`echo_key`):

- command_response: ('answer', command_id);
- robot_update: ('status', bridge_seq), read from the robot_status data;
- log_message: ('log', bridge_seq), read from the log entry.
"""

import json
import re
from typing import Any, Callable, Dict, Hashable, Optional

from .messages import SEQ_KEY

EchoKey = Hashable
# How `protocol.encode` lays a frame out: type first, top-level keys, then the data, whose
# first key is SEQ_KEY when the frame has one. A frame's key is read from its head alone.
_HEAD = 2048
_TYPE = re.compile(r'\{"type":"(\w+)"')
_COMMAND_ID = re.compile(r'"command_id":("(?:[^"\\]|\\.)*")')
_SEQ = re.compile(r'"data":\{"%s":(\d+)[,}]' % SEQ_KEY)
_KINDS = {'robot_status': 'status', 'log_entry': 'log'}


class FeedReader:
    """Turn the feed's frames into this agent's echo keys; count the rest (loop thread)."""

    def __init__(self, agent_id: str, on_echo: Callable[[EchoKey], None]) -> None:
        self._agent_id = agent_id
        self._quoted = json.dumps(agent_id)  # '"bot-1"' is in no frame of '"bot-10"'
        self._on_echo = on_echo
        self.frames = 0  # every frame the feed carried
        self.others = 0  # frames of other robots (or of nothing we sent): dropped unread
        self.echoes = 0  # echoes of frames this bridge sent

    def read(self, frame: Any) -> None:
        """Take one feed frame: report our echo, or count the frame and forget it."""
        self.frames += 1
        if not isinstance(frame, str) or self._quoted not in frame or (
                SEQ_KEY not in frame and 'command_response' not in frame[:64]):
            self.others += 1  # another robot's, or an echo of ours that proves nothing
            return
        try:
            message = json.loads(frame)
        except (ValueError, RecursionError):
            self.others += 1
            return
        key = echo_key(message, self._agent_id) if isinstance(message, dict) else None
        if key is None:
            self.others += 1
            return
        self.echoes += 1
        self._on_echo(key)

    def snapshot(self) -> Dict[str, int]:
        """Return the counters."""
        return {'feed_frames': self.frames, 'feed_others': self.others,
                'feed_echoes': self.echoes}


def echo_key(message: Dict[str, Any], agent_id: str) -> Optional[EchoKey]:
    """Return the echo key of a feed message about `agent_id`, or None if it is not ours."""
    kind = message.get('type')
    if kind == 'command_response':
        command_id = message.get('command_id')
        if message.get('agent_id') == agent_id and isinstance(command_id, str):
            return ('answer', command_id)
        return None
    data = message.get('data')
    if not isinstance(data, dict):
        return None
    if kind == 'robot_update' and message.get('robot_id') == agent_id:
        return _seq('status', data)
    if kind == 'log_message' and data.get('robot_id') == agent_id:
        return _seq('log', data)
    return None


def _seq(kind: str, data: Dict[str, Any]) -> Optional[EchoKey]:
    seq = data.get(SEQ_KEY)
    return (kind, seq) if type(seq) is int else None


def frame_key(frame: str) -> Optional[EchoKey]:
    """Return the echo key of a frame this bridge encoded, or None if it has none."""
    head = frame[:_HEAD]
    kind = _TYPE.match(head)
    if kind is None:
        return None
    if kind.group(1) == 'command_response':
        found = _COMMAND_ID.search(head)
        return ('answer', json.loads(found.group(1))) if found else None
    if kind.group(1) in _KINDS:
        found = _SEQ.search(head)
        return (_KINDS[kind.group(1)], int(found.group(1))) if found else None
    return None
