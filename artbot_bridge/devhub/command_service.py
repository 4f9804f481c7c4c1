"""The real hub's command bookkeeping (services/command_service.py, send_command_to_robot)."""

from typing import Any, Callable, Dict, List, Optional
import uuid

# robot_manager.send_command_to_robot: actions that set the robot's status after delivery.
STATUS_FLIPS = {
    'start': ('active', 'person_following'),
    'stop': ('idle', 'stopped'),
    'restart': ('restarting', 'system_restart'),
    'reboot': ('rebooting', 'system_reboot'),
}


class CommandBook:
    """Pending commands and their history: HubState's part (CommandService)."""

    clock: Callable[[], str]
    command_history: Dict[str, List[Dict[str, Any]]]
    pending_commands: Dict[str, Dict[str, Any]]

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
            'timestamp': timestamp or self.clock(),
            'status': 'pending',
        }
        self.command_history.setdefault(robot_id, []).append(dict(command_data))
        self.pending_commands[command_data['command_id']] = dict(command_data)
        return command_data

    def _command_status(self, command_id: str, status: str, error: Optional[str] = None) -> None:
        """Update a command in history and pending (CommandService._update_command_status)."""
        command = self.pending_commands.get(command_id)
        if not command:
            return
        for cmd in self.command_history.get(command['robot_id'], []):
            if cmd['command_id'] == command_id:
                cmd['status'] = status
                cmd['completed_at'] = self.clock()
                if error:
                    cmd['error'] = error
                break
        command['status'] = status
        if error:
            command['error'] = error

    def command_delivered(self, command: Dict[str, Any]) -> None:
        """Mark the command sent, then flip the robot's status for the four status actions."""
        self._command_status(command['command_id'], 'sent')
        flip = STATUS_FLIPS.get(command['action'])
        if flip:
            self.set_robot_status(command['robot_id'], *flip)

    def command_undelivered(self, command: Dict[str, Any]) -> str:
        """Mark the command failed and log it; return the error the 500 answer carries."""
        robot_id = command['robot_id']
        error = f'Failed to send command to robot {robot_id}'
        self._command_status(command['command_id'], 'failed', error='WebSocket send failed')
        self.add_robot_log(robot_id, {'level': 'ERROR',
                                      'message': f"Failed to send command {command['action']}: "
                                                 f'{error}',
                                      'source': 'robot_manager'})
        return error
