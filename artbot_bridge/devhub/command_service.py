"""The real hub's command sending (services/command_service.py, send_command_to_robot)."""

from typing import Any, Dict, Optional
import uuid

from .hubstate import HubState

# robot_manager.send_command_to_robot: actions that set the robot's status after delivery.
STATUS_FLIPS = {
    'start': ('active', 'person_following'),
    'stop': ('idle', 'stopped'),
    'restart': ('restarting', 'system_restart'),
    'reboot': ('rebooting', 'system_reboot'),
}


class CommandBook:
    """A command's life in the hub's books (CommandService), kept in the state it holds."""

    def __init__(self, state: HubState) -> None:
        self.state = state

    def new_command(self, robot_id: str, action: str, parameters: Any = None,
                    command_id: Optional[str] = None,
                    timestamp: Optional[str] = None) -> Dict[str, Any]:
        """
        Return a pending command and record it (CommandService.send_command_to_robot).

        `timestamp` replaces the hub's stamp (now): the local hub's `delay` query sends a
        command as if it had waited in a stalled link.
        """
        command_data = {
            'command_id': command_id or str(uuid.uuid4()),
            'robot_id': robot_id,
            'type': 'robot_command',
            'action': action,
            'parameters': parameters or {},
            'timestamp': timestamp or self.state.clock(),
            'status': 'pending',
        }
        self.state.record_command(command_data)
        return command_data

    def command_delivered(self, command: Dict[str, Any]) -> None:
        """Mark the command sent, then flip the robot's status for the four status actions."""
        self.state.update_command_status(command['command_id'], 'sent')
        flip = STATUS_FLIPS.get(command['action'])
        if flip:
            self.state.set_robot_status(command['robot_id'], *flip)

    def command_undelivered(self, command: Dict[str, Any]) -> str:
        """Mark the command failed and log it; return the error the 500 answer carries."""
        robot_id = command['robot_id']
        error = f'Failed to send command to robot {robot_id}'
        self.state.update_command_status(command['command_id'], 'failed',
                                         error='WebSocket send failed')
        message = f"Failed to send command {command['action']}: {error}"
        self.state.add_robot_log(robot_id, {'level': 'ERROR', 'message': message,
                                            'source': 'robot_manager'})
        return error
