"""
The real hub's bookkeeping, ported: what it stores, and where its agent reader dies.

The Artbot Control Hub (FastAPI, `backend/app/` of itsjustmahmoud/artbot-control-hub) keeps
robots, agents and logs in memory and runs arithmetic on what agents send. `HubState` repeats
that code statement for statement, with the same Python semantics, so whatever raises in the
real hub raises here too: a bool is an int and passes, None or a string raises, a huge integer
overflows. Each method names the real code it mirrors.

The port is split by the real hub's services: `hubstate` (the registries: robot and agent
records, logs), `command_service`, `health` (the heartbeat copy and the health score),
`agent_reader` (how a frame is read and handled) and `request_bodies`; every name is importable
from here. These modules are pure (standard library only, no aiohttp), so the bridge's tests
can import them cheaply: `acceptance_error(kind, data)` and `frame_error(frame)` tell whether
the real hub's reader survives a message, `api_error(value)` whether its robot API can still
answer once a value is in a robot record.
"""

import json
from typing import Any, Optional, Union

from .agent_reader import AgentReader, describe, Outcome, parse_frame, ReaderDied  # noqa: F401
from .command_service import CommandBook, STATUS_FLIPS  # noqa: F401
from .health import calculate_health_score, determine_health_status  # noqa: F401
from .health import health_entry, HEALTH_KEYS, HEALTH_TRIGGER_KEYS  # noqa: F401
from .health import HEARTBEAT_KEYS, heartbeat_update  # noqa: F401
from .hubstate import HubState, MAX_ROBOT_LOGS, MAX_SYSTEM_LOGS, utcnow  # noqa: F401
from .request_bodies import _field_errors, command_errors, registration_errors  # noqa: F401

PROBE_ID = 'probe'  # the registered agent that acceptance_error and frame_error speak for


def api_error(value: Any) -> Optional[str]:
    """
    Return why the hub's JSON answer of `value` fails (a 500), or None.

    Starlette's JSONResponse renders with `allow_nan=False`: once a NaN or an infinity is in a
    robot record, `GET /api/robots` answers 500 for every robot.
    """
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(',', ':'))
    except (ValueError, TypeError, RecursionError) as exc:
        return describe(exc)
    return None


def probe() -> HubState:
    """Return a hub with one registered agent, PROBE_ID, and its fresh robot record."""
    state = HubState()
    state.register_agent(PROBE_ID, {'hostname': PROBE_ID, 'ip_address': '127.0.0.1',
                                    'system_info': {}, 'robot_info': {}})
    return state


def acceptance_error(kind: str, data: Any) -> Optional[str]:
    """
    Return why the real hub's reader dies on a `kind` message carrying `data`, or None.

    The message `{"type": kind, "data": data}` is handled for a registered agent whose robot
    record exists, the case where the hub does the most with it: a heartbeat's nine keys and
    a robot_status' data go through the health score (null, a string, a list or an overflowing
    number in battery_level, cpu_usage, memory_usage, temperature or network_latency raise), a
    log_entry must be an object. None means the hub survives it.
    """
    try:
        probe().handle_agent_message(PROBE_ID, {'type': kind, 'data': data})
    except Exception as exc:
        return f'{kind}: {describe(exc)}'
    return None


def frame_error(frame: Union[str, bytes]) -> Optional[str]:
    """Return why the real hub's reader dies on this WebSocket frame, or None (see above)."""
    try:
        probe().receive_frame(PROBE_ID, frame)
    except ReaderDied as died:
        return died.reason
    return None
