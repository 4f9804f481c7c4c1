"""
The hub's wire protocol: inbound commands parsed at the edge, outbound frames encoded once.

Every outbound frame is one text frame holding one JSON object: the hub's reader dies silently
on anything else, so `encode` is the only way a frame is made.
"""

from datetime import datetime, timezone
import json
import re
from typing import Any, Dict, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, TypeAdapter
from pydantic import ValidationError

MAX_DEPTH = 32  # nesting of command parameters; deeper is refused, not recursed into
_LEADING_ID = re.compile(r'\s*\{\s*"command_id"\s*:\s*"((?:[^"\\]|\\.){1,200})"')
OutboundType = Literal['heartbeat', 'robot_status', 'command_response', 'log_entry']


class ProtocolError(ValueError):
    """An inbound frame that is not a valid command; `command_id` is kept when it was readable."""

    def __init__(self, reason: str, command_id: Optional[str] = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.command_id = command_id


class Command(BaseModel):
    """A command sent by the hub to this agent."""

    model_config = ConfigDict(extra='allow', frozen=True)

    command_id: str = Field(min_length=1, max_length=200)
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
        raise ProtocolError('binary frame: the hub sends commands as JSON text')
    try:
        payload = json.loads(frame)
    except ValueError as err:
        raise ProtocolError(f'not JSON: {err}') from None
    except RecursionError:
        # Too deep to parse, but a leading command_id can still be answered.
        leading = _LEADING_ID.match(frame)
        command_id = json.loads(f'"{leading.group(1)}"') if leading else None
        raise ProtocolError('not JSON the bridge reads: nested too deeply', command_id) from None
    if not isinstance(payload, dict):
        raise ProtocolError(f'expected a JSON object, got {type(payload).__name__}')
    command_id = payload.get('command_id')
    readable_id = command_id if isinstance(command_id, str) and command_id else None
    try:
        return _COMMAND.validate_python(payload)
    except ValidationError as err:
        first = err.errors()[0]
        field = '.'.join(str(part) for part in first['loc']) or 'command'
        raise ProtocolError(f'invalid command field {field!r}: {first["msg"]}',
                            readable_id) from None


def utc_timestamp() -> str:
    """Return the current time as ISO-8601 UTC, as the hub writes it."""
    return datetime.now(timezone.utc).isoformat()


def _plain(value: Any) -> Any:
    """Make values json can't encode into strings instead of failing the whole frame."""
    return str(value)


def encode(kind: OutboundType, agent_id: str, data: Dict[str, Any], **top: Any) -> str:
    """Encode one outbound message (`top` adds top-level keys such as command_id)."""
    message = {'type': kind, 'agent_id': agent_id, 'timestamp': utc_timestamp(), **top,
               'data': data}
    return json.dumps(message, separators=(',', ':'), allow_nan=False, default=_plain)


def command_response(agent_id: str, command_id: str, success: bool,
                     data: Dict[str, Any]) -> str:
    """Encode the one command_response a command gets."""
    return encode('command_response', agent_id, data, command_id=command_id,
                  success=bool(success))
