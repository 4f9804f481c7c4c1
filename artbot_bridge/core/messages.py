"""
The hub's vocabulary: one model per message the bridge sends, and the key sets read from them.

Each outbound frame is `{"type", "agent_id", "timestamp", ...top-level keys, "data"}`; the
models below say what its data holds. Their fields are the keys the real hub knows (it copies,
stores, scores or shows them), plus the few the bridge adds for itself; open-ended keys (a
status source's flat keys, a stream source's name) are allowed beside them.

What the hub's reader needs to survive is in the types, and `wire` applies it:
- `HubNumber`: a key the hub computes its health score with is a finite number (a bool or an
  int past 2**53 is not one), or it is left out: never null, never a string;
- any other heartbeat or robot_status key that is null or not finite is left out too;
- every other value goes as its producer made it: the hub stores it as sent.

The key sets that other modules check against (`HEARTBEAT_KEYS`, `HEARTBEAT_NUMBERS`,
`STATUS_NUMBERS`, `HUB_KEYS`) are read from the models, so a key changes here and in its
one producer. `python -m artbot_bridge.schema --write` exports the models as JSON Schema.
"""

import math
from typing import Annotated, Any, Dict, FrozenSet, List, Literal, Mapping, Optional, Tuple, Type

from pydantic import BaseModel, ConfigDict, Field, model_validator, WrapValidator

# The number the bridge puts first in each robot_status and log_entry it wants proven: the
# hub's dashboard feed echoes the data, and so the number, once its reader handled the frame.
SEQ_KEY = 'bridge_seq'
# Log levels as the hub files and filters them.
HUB_LEVELS = {'debug': 'DEBUG', 'info': 'INFO', 'warn': 'WARNING', 'warning': 'WARNING',
              'error': 'ERROR', 'fatal': 'CRITICAL', 'critical': 'CRITICAL'}
_RECORD = 'x-hub-record'  # a heartbeat field's key in the hub's robot record


def is_number(value: Any) -> bool:
    """Return True for a finite float or an int a float can hold: what the hub computes with."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53


class _Computed:
    """Marks a field the hub does arithmetic on (its health score)."""


def _known_number(value: Any, handler: Any) -> Any:
    return value if is_number(value) else None  # unknown: left out by `wire`


def _as_sent(value: Any, handler: Any) -> Any:
    return value  # the hub stores it as sent; the field's type documents what it expects


# The value itself is kept (an int stays an int): the frame is byte for byte what was made.
SENT = WrapValidator(_as_sent)
HubNumber = Annotated[Optional[float], WrapValidator(_known_number), _Computed()]
Number = Annotated[Optional[float], SENT]
Count = Annotated[Optional[int], SENT]
Flag = Annotated[Optional[bool], SENT]
Text = Annotated[Optional[str], SENT]
Word = Annotated[str, SENT]


def _unknown(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


class HubData(BaseModel):
    """Data of a heartbeat or a robot_status: known keys typed, open-ended keys allowed."""

    model_config = ConfigDict(extra='allow', frozen=True)

    @classmethod
    def wire(cls, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return `data` as sent, in its order: unknown values left out, the rest as given."""
        # Only the declared keys are validated; the open-ended ones pass as given (whatever
        # their name: json.dumps writes a key that is not text as text).
        declared = {key: value for key, value in data.items() if key in cls.model_fields}
        checked = vars(cls.model_validate(declared))
        unknown = [key for key, value in data.items() if _unknown(checked.get(key, value))]
        if not unknown:
            return data  # the usual case costs no copy
        return {key: value for key, value in data.items() if key not in unknown}


def _record(name: str, description: str) -> Any:
    return Field(default=None, description=description, json_schema_extra={_RECORD: name})


class Heartbeat(HubData):
    """
    heartbeat data: the host's and the robot's state, every `heartbeat_interval`.

    The hub copies only the fields marked x-hub-record into the robot record, under that
    name, and drops every other key; then it runs its health score over the record.
    """

    cpu_percent: HubNumber = _record('cpu_usage', 'CPU load of the host, %')
    memory_percent: HubNumber = _record('memory_usage', 'memory in use on the host, %')
    temperature: HubNumber = _record('temperature', 'hottest CPU/SoC sensor, degrees C')
    battery_level: HubNumber = _record(
        'battery_level', "the robot's battery (else the host's), 0-100 %")
    workspace_running: Flag = _record(
        'workspace_running', 'the workspace runs (the hub also sets current_action from it)')
    create3_connected: Flag = _record('create3_connected', 'the base reports')
    create3_status: Text = _record(
        'create3_status', 'the base: disconnected, docked, charging or active')
    oak_connected: Flag = _record('oak_connected', 'the camera reports')
    uptime: Count = _record('uptime', 'seconds since the bridge started')
    # The bridge's own: the hub drops them, a reader of the frame has them.
    rtt_ms: Number = Field(default=None, description='round trip of the last ping to the hub')
    system_uptime: Count = Field(default=None, description='seconds since the host booted')
    disk_percent: Number = Field(default=None, description='disk in use, %')
    load_average: Annotated[Optional[Tuple[Optional[float], ...]], SENT] = Field(
        default=None, description='host load over 1, 5 and 15 minutes')
    net_bytes_sent: Count = Field(default=None, description='bytes the host sent')
    net_bytes_recv: Count = Field(default=None, description='bytes the host received')
    process_rss_mb: Number = Field(default=None, description="the bridge's resident memory")
    process_cpu_percent: Number = Field(default=None, description="the bridge's CPU, %")


class SourceReport(BaseModel):
    """One status source as robot_status reports it, under `sources`."""

    topic: str
    type: str  # noqa: A003 - the hub's word
    stale: bool = Field(description='no message within stale_after')
    age_s: Optional[float] = Field(description='seconds since the last message; null: never')
    count: int = Field(description='messages received')
    data: Any = Field(description='the fields, the meaning or the whole message; null: stale')


class RobotStatus(HubData):
    """
    robot_status data: merged as-is into the hub's robot record, then scored and broadcast.

    The only message that sets the card's keys; open-ended keys are the status sources' flat
    keys and, on a stream source's frames, `{<source name>: {"seq", "data"}}`.
    """

    bridge_seq: Count = Field(default=None, description='first when the frame is to be proven')
    status: Text = Field(default=None, description='"online" brings a flipped robot back')
    location: Text = Field(default=None, description="the card's location line")
    battery_level: HubNumber = Field(default=None, description='0-100 %')
    battery: Number = Field(default=None, description="the card's low-battery style")
    cpu_usage: HubNumber = None
    memory_usage: HubNumber = None
    temperature: HubNumber = None
    network_latency: HubNumber = None
    is_charging: Flag = None
    is_docked: Flag = None
    create3_connected: Flag = None
    create3_status: Text = None
    oak_connected: Flag = None
    oak_camera_connected: Flag = Field(default=None, description='the card\'s "OAK" tile')
    workspace_running: Flag = None
    workspace_status: Text = Field(default=None, description='"running" on the card, or not')
    current_action: Text = None
    uptime: Count = None
    uptime_seconds: Count = Field(default=None, description="the card's uptime tile")
    sources: Annotated[Optional[Dict[str, SourceReport]], SENT] = Field(
        default=None, description='every status source, by name')


class HubRecord(BaseModel):
    """Not a message: the keys the hub writes itself into a robot record (registration)."""

    id: str  # noqa: A003 - the hub's word
    agent_id: str
    robot_id: str
    name: str
    hostname: str
    ip_address: str
    system_info: Dict[str, Any]
    capabilities: List[str]
    last_heartbeat: str
    last_update: str
    registered_at: str
    logs: List[Dict[str, Any]]
    timestamp: str


class LogEntry(BaseModel):
    """log_entry data: the hub files it as a robot log, upper-case level, and broadcasts it."""

    model_config = ConfigDict(frozen=True)

    bridge_seq: Count = Field(default=None, description='first when the frame is to be proven')
    level: str = Field(description='DEBUG, INFO, WARNING, ERROR or CRITICAL (from info)')
    message: str
    timestamp: Word = Field(description="ISO-8601 UTC (the frame's, when not given)")
    source: Word = Field(description='rosout, events or artbot_bridge (the default)')
    details: Annotated[Optional[Dict[str, Any]], SENT] = Field(
        default=None, description='every other key: the one extra key the hub files')

    @model_validator(mode='before')
    @classmethod
    def _hub_words(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        level = str(data.get('level', 'info'))
        entry = {'level': HUB_LEVELS.get(level.lower(), level.upper()),
                 'message': str(data.get('message', '')),
                 'timestamp': data.get('timestamp') or '',
                 'source': data.get('source') or 'artbot_bridge'}
        details = {key: value for key, value in data.items() if key not in _LOG_WORDS}
        if details:
            entry['details'] = details
        return entry

    @classmethod
    def wire(cls, data: Mapping[str, Any], now: str) -> Dict[str, Any]:
        """Return the entry as sent: the hub's level word, a timestamp (`now`), a source."""
        entry = cls.model_validate(data)
        sent = {'level': entry.level, 'message': entry.message,
                'timestamp': entry.timestamp or now, 'source': entry.source}
        if entry.details is not None:
            sent['details'] = entry.details
        return sent


# The keys a log line is filed under; every other one goes under `details`.
_LOG_WORDS = tuple(key for key in LogEntry.model_fields if key not in (SEQ_KEY, 'details'))


class ResponseData(BaseModel):
    """command_response data: sent as the command's handler made it (its nulls too)."""

    model_config = ConfigDict(extra='allow', frozen=True)

    message: Optional[str] = Field(default=None, description='what happened, in words')
    result: Any = Field(default=None, description="the handler's result")


class _Envelope(BaseModel):
    """What every agent frame carries; the hub reads the id from the socket's path instead."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    type: str  # noqa: A003 - each frame's own word, first on the wire
    agent_id: str
    timestamp: str = Field(description='ISO-8601 UTC')


class HeartbeatFrame(_Envelope):
    """Agent to hub, every heartbeat_interval."""

    type: Literal['heartbeat'] = 'heartbeat'  # noqa: A003
    data: Heartbeat


class RobotStatusFrame(_Envelope):
    """Agent to hub, every status_interval, after a status-flipping action, per stream message."""

    type: Literal['robot_status'] = 'robot_status'  # noqa: A003
    data: RobotStatus


class LogEntryFrame(_Envelope):
    """Agent to hub, one log line."""

    type: Literal['log_entry'] = 'log_entry'  # noqa: A003
    data: LogEntry


class CommandResponseFrame(_Envelope):
    """Agent to hub, exactly one per command, carrying its command_id."""

    type: Literal['command_response'] = 'command_response'  # noqa: A003
    command_id: str
    success: bool
    data: ResponseData


OUTBOUND: Tuple[Type[BaseModel], ...] = (
    HeartbeatFrame, RobotStatusFrame, LogEntryFrame, CommandResponseFrame)


def numbers_of(model: Type[BaseModel]) -> FrozenSet[str]:
    """Return the fields of `model` that the hub computes with (typed `HubNumber`)."""
    return frozenset(name for name, field in model.model_fields.items()
                     if any(isinstance(mark, _Computed) for mark in field.metadata))


def record_keys(model: Type[BaseModel] = Heartbeat) -> Dict[str, str]:
    """Return {field: its key in the hub's robot record} for the fields the hub copies."""
    return {name: field.json_schema_extra[_RECORD] for name, field in model.model_fields.items()
            if isinstance(field.json_schema_extra, dict) and _RECORD in field.json_schema_extra}


# Keys the hub does arithmetic on after each message: a null or a string there raises inside
# its reader. The heartbeat's are read before the hub renames them.
HEARTBEAT_NUMBERS = numbers_of(Heartbeat)
STATUS_NUMBERS = numbers_of(RobotStatus)
# The heartbeat keys the hub copies into its robot record (it drops every other one).
HEARTBEAT_KEYS = tuple(record_keys(Heartbeat))
# Keys of the hub's robot record: a stream source's frames must not overwrite them.
HUB_KEYS = frozenset(HubRecord.model_fields) | frozenset(RobotStatus.model_fields) | \
    frozenset(HEARTBEAT_KEYS)
