"""
The real hub's agent reader, ported: how a frame is read, and the messages it handles.

main.websocket_agent reads each frame as text, parses it as JSON and hands it to
ConnectionManager.handle_agent_message; whatever raises there ends the reader (`ReaderDied`).
`AgentReader` does this to the `HubState` it holds.
"""

import json
from typing import Any, Tuple, Union

from .hubstate import HubState

Outcome = Tuple[str, Any]


def describe(exc: BaseException) -> str:
    """Return an exception as one line: its type and message."""
    return f'{type(exc).__name__}: {exc}'


class ReaderDied(Exception):
    """The real hub's agent reader would have raised here (main.websocket_agent's except)."""

    def __init__(self, reason: str, message: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message  # the parsed JSON object, when the frame was one


def parse_frame(frame: Union[str, bytes]) -> Any:
    """
    Return a frame's JSON value as main.websocket_agent reads it; raise ReaderDied otherwise.

    The hub calls `websocket.receive_text()`, which reads message["text"] (a binary frame has
    none), then `json.loads` (Python's: NaN and Infinity are accepted).
    """
    if not isinstance(frame, str):
        raise ReaderDied("binary frame: KeyError: 'text'")
    try:
        return json.loads(frame)
    except (ValueError, RecursionError) as exc:
        raise ReaderDied(f'not JSON: {describe(exc)}') from exc


class AgentReader:
    """The agent socket's messages (main.websocket_agent, ConnectionManager), read into a state."""

    def __init__(self, state: HubState) -> None:
        self.state = state

    def handle_agent_message(self, agent_id: str, message: Any) -> Outcome:
        """
        Handle one parsed message as the hub does; raise where the hub's reader raises.

        Returns what happened, for the caller's own use: (kind, payload) with kind one of
        heartbeat, heartbeat_ignored, robot_status, robot_status_ignored, log_entry,
        command_response, unknown.
        """
        message_type = message.get('type')
        if message_type == 'heartbeat':
            data = message.get('data', {})
            known = self.state.update_agent_heartbeat(agent_id, data)
            return ('heartbeat' if known else 'heartbeat_ignored', data)
        elif message_type == 'robot_status':
            robot_data = message.get('data', {})
            known = self.state.update_robot_status(agent_id, robot_data)
            robot_data.get('last_update')  # broadcast_robot_update reads it
            return ('robot_status' if known else 'robot_status_ignored', robot_data)
        elif message_type == 'log_entry':
            log_data = message.get('data', {})
            stored = self.state.add_robot_log(agent_id, log_data)
            broadcast = {'type': 'log_message',
                         'data': {**log_data, 'robot_id': agent_id, 'source': 'robot'}}
            return ('log_entry', (stored, broadcast))
        elif message_type == 'command_response':
            return ('command_response', {
                'type': 'command_response', 'agent_id': agent_id,
                'command_id': message.get('command_id'),
                'success': message.get('success', False), 'data': message.get('data', {})})
        return ('unknown', message_type)

    def read_message(self, agent_id: str, message: Any) -> Outcome:
        """Handle one parsed frame; raise ReaderDied, naming the message type, where it raises."""
        if not isinstance(message, dict):
            stage = f'JSON {type(message).__name__}, not an object'
        else:
            stage = str(message.get('type'))
        try:
            return self.handle_agent_message(agent_id, message)
        except Exception as exc:
            raise ReaderDied(f'{stage}: {describe(exc)}',
                             message if isinstance(message, dict) else None) from exc

    def receive_frame(self, agent_id: str, frame: Union[str, bytes]) -> Tuple[Any, Outcome]:
        """Read one frame as the hub's reader does; return (message, outcome) or raise."""
        message = parse_frame(frame)
        return message, self.read_message(agent_id, message)
