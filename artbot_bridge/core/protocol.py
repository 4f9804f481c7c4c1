"""
The hub's wire protocol: inbound commands parsed at the edge, outbound frames encoded once.

`encode` is the only way an outbound frame is made, and it guarantees what the real hub's
reader needs to survive (a single bad frame kills it silently, leaving a zombie link):
- every frame is one text frame holding one JSON object;
- its data is what the message's model in `messages` makes of it: a heartbeat or robot_status
  never carries a null (an unknown value is left out), the keys the hub computes its health
  score with are finite numbers or absent, a log_entry is in the hub's words;
- a NaN or an infinity deeper in the data goes as null: JSON has no word for it.
"""

from datetime import datetime, timezone
import json
import math
import re
from typing import Any, Callable, Dict, Literal, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, TypeAdapter
from pydantic import ValidationError

from .messages import Heartbeat, LogEntry, RobotStatus, SEQ_KEY

MAX_DEPTH = 32  # nesting of command parameters; deeper is refused, not recursed into
MAX_ID = 200  # characters of a command id; a longer one is refused, never remembered
_LEADING_ID = re.compile(r'\s*\{\s*"command_id"\s*:\s*"((?:[^"\\]|\\.){1,%d})"' % MAX_ID)
OutboundType = Literal['heartbeat', 'robot_status', 'command_response', 'log_entry']

# The hub's own endpoints set the robot's status on these actions, whatever the agent answers,
# and refuse every later command until a robot_status says "online" again.
STATUS_FLIPPING_ACTIONS = frozenset(('start', 'stop', 'restart', 'reboot'))


class ProtocolError(ValueError):
    """An inbound frame that is not a valid command; `command_id` is kept when it was readable."""

    def __init__(self, reason: str, command_id: Optional[str] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.command_id = command_id


class Command(BaseModel):
    """A command sent by the hub to this agent."""

    model_config = ConfigDict(extra='allow', frozen=True)

    command_id: str = Field(min_length=1, max_length=MAX_ID)
    type: Literal['robot_command', 'system_command'] = 'robot_command'  # noqa: A003
    action: str = Field(min_length=1, max_length=200)
    parameters: Dict[str, Any] = Field(default_factory=dict)
    robot_id: Optional[str] = None
    timestamp: Optional[str] = None
    status: Optional[str] = None

    @field_validator('parameters')
    @classmethod
    def _shallow(cls, value: Dict[str, Any]) -> Dict[str, Any]:
        if nesting(value) > MAX_DEPTH:
            raise ValueError(f'nested deeper than {MAX_DEPTH} levels')
        return value


def readable_id(value: Any) -> Optional[str]:
    """Return a command id that can be answered and remembered (UTF-8 text, bounded), or None."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID:
        return None
    try:
        value.encode('utf-8')  # a lone surrogate ("\ud800") has no UTF-8 form: not storable
    except UnicodeEncodeError:
        return None
    return value


def unicode_error(payload: Dict[str, Any], frame: str) -> Optional[str]:
    """Return why a parsed frame holds text with no UTF-8 form (lone surrogates), or None."""
    if '\\u' not in frame:
        return None  # only a \u escape can make a lone surrogate: the usual frame costs nothing
    try:
        json.dumps(payload, ensure_ascii=False).encode('utf-8')
    except UnicodeEncodeError as err:
        return f'text that is not valid Unicode ({err.reason}: {err.object[err.start:err.end]!r})'
    return None


def nesting(value: Any) -> int:
    """Return how deeply lists and dicts nest in `value` (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in item)
    return deepest


_COMMAND = TypeAdapter(Command)


def parse_command(frame: Any) -> Command:
    """Parse one inbound frame into a Command, or raise ProtocolError saying why."""
    if isinstance(frame, (bytes, bytearray, memoryview)):
        text = bytes(frame).decode('utf-8', 'replace')
        leading = _LEADING_ID.match(text)
        command_id = readable_id(json.loads(f'"{leading.group(1)}"')) if leading else None
        raise ProtocolError('binary frame: the hub sends commands as JSON text', command_id)
    try:
        payload = json.loads(frame)
    except ValueError as err:
        raise ProtocolError(f'not JSON: {err}') from None
    except RecursionError:
        # Too deep to parse, but a leading command_id can still be answered.
        leading = _LEADING_ID.match(frame)
        command_id = readable_id(json.loads(f'"{leading.group(1)}"')) if leading else None
        raise ProtocolError('not JSON the bridge reads: nested too deeply', command_id) from None
    if not isinstance(payload, dict):
        raise ProtocolError(f'expected a JSON object, got {type(payload).__name__}')
    command_id = readable_id(payload.get('command_id'))
    bad_text = unicode_error(payload, frame)
    if bad_text:
        raise ProtocolError(f'the command holds {bad_text}', command_id)
    try:
        return _COMMAND.validate_python(payload)
    except ValidationError as err:
        first = err.errors()[0]
        field = '.'.join(str(part) for part in first['loc']) or 'command'
        raise ProtocolError(f'invalid command field {field!r}: {first["msg"]}',
                            command_id) from None


def utc_timestamp() -> str:
    """Return the current time as ISO-8601 UTC, as the hub writes it."""
    return datetime.now(timezone.utc).isoformat()


def _plain(value: Any) -> Any:
    """Make values json can't encode into strings instead of failing the whole frame."""
    return str(value)


# What each kind of frame's data is as sent (`messages`), applied in `encode` and nowhere else:
# (data, the frame's timestamp) -> data.
_DATA_RULES: Dict[str, Callable[[Mapping[str, Any], str], Mapping[str, Any]]] = {
    'heartbeat': lambda data, now: Heartbeat.wire(data),
    'robot_status': lambda data, now: RobotStatus.wire(data),
    'log_entry': LogEntry.wire,
    'command_response': lambda data, now: data,  # as the handler made it, nulls too
}


def encode(kind: OutboundType, agent_id: str, data: Mapping[str, Any], *,
           seq: Optional[int] = None, **top: Any) -> str:
    """
    Encode one outbound message (`top` adds top-level keys such as command_id).

    `seq` goes first in the data, as SEQ_KEY, where `feed.frame_key` finds it again.
    """
    now = utc_timestamp()
    body = _DATA_RULES[kind](data, now)
    if seq is not None:
        body = {SEQ_KEY: seq, **{key: value for key, value in body.items() if key != SEQ_KEY}}
    return _dumps({'type': kind, 'agent_id': agent_id, 'timestamp': now, **top, 'data': body})


def _dumps(message: Dict[str, Any]) -> str:
    try:
        return json.dumps(message, separators=(',', ':'), allow_nan=False, default=_plain)
    except ValueError:  # a NaN or an infinity deeper down: JSON has no word for it
        return json.dumps(_finite(message), separators=(',', ':'), default=_plain)


def _finite(value: Any) -> Any:
    """Return `value` with every NaN and infinity replaced by None (nesting is ours: bounded)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def command_response(agent_id: str, command_id: str, success: bool,
                     data: Dict[str, Any]) -> str:
    """Encode the one command_response a command gets."""
    return encode('command_response', agent_id, data, command_id=command_id,
                  success=bool(success))
