"""
Whether the real hub survives a message or a value, told in advance by its ported code.

The bridge's tests import these cheaply (standard library only, no aiohttp):
`acceptance_error(kind, data)` and `frame_error(frame)` tell whether the real hub's agent
reader survives a message, `api_error(value)` whether its robot API can still answer once a
value is in a robot record. Each runs the local hub's port of the real code (`hubstate`,
`agent_reader`) on a probe: a state of its own with one registered agent.
"""

import json
from typing import Any, Optional, Union

from .agent_reader import AgentReader, describe, ReaderDied
from .hubstate import HubState

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


def probe() -> AgentReader:
    """Return the reader of a hub with one registered agent, PROBE_ID, and its fresh record."""
    state = HubState()
    state.register_agent(PROBE_ID, {'hostname': PROBE_ID, 'ip_address': '127.0.0.1',
                                    'system_info': {}, 'robot_info': {}})
    return AgentReader(state)


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
