"""
The real hub's in-memory registries (robots, agents, logs, health, commands), ported.

The Artbot Control Hub (FastAPI, `backend/app/` of itsjustmahmoud/artbot-control-hub) keeps
all of these in memory, one service each. `HubState` is the local hub's one state object: it
owns them all, and repeats the real code that changes them statement for statement, with the
same Python semantics, so whatever raises in the real hub raises here too (a bool is an int
and passes, None or a string raises, a huge integer overflows). Each method names the real
code it mirrors. The services that act on it hold it: `agent_reader.AgentReader` (a frame from
an agent) and `command_service.CommandBook` (a command to one).
"""

from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Mapping, Optional

from .health import calculate_health_score, determine_health_status, health_entry
from .health import HEALTH_TRIGGER_KEYS, heartbeat_update

MAX_ROBOT_LOGS = 1000  # logging_service.add_robot_log
MAX_SYSTEM_LOGS = 5000  # logging_service.add_system_log


def utcnow(at: Optional[float] = None) -> str:
    """Return a timestamp as the hub writes them (now, or Unix time `at`): naive UTC, ISO 8601."""
    moment = datetime.now(timezone.utc) if at is None else datetime.fromtimestamp(at, timezone.utc)
    return moment.replace(tzinfo=None).isoformat()


class HubState:
    """The hub's in-memory registries and the code that changes them, as in the real hub."""

    def __init__(self, clock: Callable[[], str] = utcnow) -> None:
        self.clock = clock
        self.robots: Dict[str, Dict[str, Any]] = {}  # RobotRegistryService.robots
        self.agents: Dict[str, Dict[str, Any]] = {}  # AgentRegistryService.agents
        self.robot_logs: Dict[str, List[Dict[str, Any]]] = {}  # LoggingService.robot_logs
        self.system_logs: List[Dict[str, Any]] = []  # LoggingService.system_logs
        self.health_checks: Dict[str, Dict[str, Any]] = {}  # HealthMonitoringService
        self.command_history: Dict[str, List[Dict[str, Any]]] = {}  # CommandService
        self.pending_commands: Dict[str, Dict[str, Any]] = {}  # CommandService

    # -- robots and agents ------------------------------------------------------------------

    def register_robot(self, robot_id: str, robot_info: Mapping[str, Any]) -> Dict[str, Any]:
        """Create (or reset) the robot record (RobotRegistryService.register_robot)."""
        now = self.clock()
        robot_data = {
            'id': robot_id,
            'agent_id': robot_id,
            'name': robot_info.get('name', f'Robot {robot_id}'),
            'hostname': robot_info.get('hostname', f'unknown-{robot_id}'),
            'status': 'online',
            'current_action': 'idle',
            'battery_level': robot_info.get('battery_level', 100),
            'cpu_usage': robot_info.get('cpu_usage', 0),
            'memory_usage': robot_info.get('memory_usage', 0),
            'temperature': robot_info.get('temperature', 25),
            'ip_address': robot_info.get('ip_address', 'unknown'),
            'location': robot_info.get('location', 'Unknown'),
            'capabilities': robot_info.get('capabilities', []),
            'create3_connected': robot_info.get('create3_connected', False),
            'create3_status': robot_info.get('create3_status', 'unknown'),
            'oak_connected': robot_info.get('oak_connected', False),
            'workspace_running': robot_info.get('workspace_running', False),
            'uptime': robot_info.get('uptime', 0),
            'last_update': now,
            'registered_at': now,
        }
        self.robots[robot_id] = robot_data
        self.add_system_log({'level': 'INFO', 'message': f'Robot {robot_id} registered',
                             'component': 'robot_manager', 'robot_id': robot_id})
        return robot_data

    def register_agent(self, agent_id: str, agent_info: Mapping[str, Any]) -> Dict[str, Any]:
        """Register an agent and reset its robot (RobotManager.register_agent)."""
        now = self.clock()
        agent_data = {  # AgentRegistryService.register_agent (datetimes kept as ISO text)
            'agent_id': agent_id,
            'hostname': agent_info.get('hostname', f'unknown-{agent_id}'),
            'ip_address': agent_info.get('ip_address', 'unknown'),
            'port': agent_info.get('port', 8080),
            'status': 'online',
            'last_seen': now,
            'registered_at': now,
            'system_info': agent_info.get('system_info', {}),
            'capabilities': agent_info.get('capabilities', []),
            'version': agent_info.get('version', 'unknown'),
        }
        self.agents[agent_id] = agent_data
        self.register_robot(agent_id, {
            'name': agent_info.get('hostname', f'Robot {agent_id}'),
            'hostname': agent_info.get('hostname', f'unknown-{agent_id}'),
            'ip_address': agent_info.get('ip_address', 'unknown'),
            'battery_level': 100,
            'cpu_usage': 0,
            'memory_usage': 0,
            'temperature': 25,
            'location': 'Museum',
            'capabilities': agent_info.get('robot_info', {}).get('capabilities', []),
            'create3_connected': False,
            'oak_connected': False,
            'workspace_running': False,
            'uptime': 0,
        })
        address = agent_info.get('ip_address', 'unknown')
        self.add_system_log({'level': 'INFO',
                             'message': f'Agent {agent_id} registered from {address}',
                             'component': 'robot_manager'})
        return agent_data

    def remove_agent(self, agent_id: str) -> bool:
        """Forget the agent and mark its robot offline, if it was registered (remove_agent)."""
        if agent_id not in self.agents:
            return False
        del self.agents[agent_id]
        self.set_robot_status(agent_id, 'offline')
        self.add_system_log({'level': 'WARNING', 'message': f'Agent {agent_id} disconnected',
                             'component': 'robot_manager'})
        return True

    def update_robot_status(self, robot_id: str, status_data: Any) -> bool:
        """Merge data into an existing record, then score its health (update_robot_status)."""
        if robot_id not in self.robots:  # RobotRegistryService.update_robot_status
            return False
        robot = self.robots[robot_id]
        robot.update(status_data)
        robot['last_update'] = self.clock()
        if any(key in status_data for key in HEALTH_TRIGGER_KEYS):
            self.update_robot_health(robot_id, status_data)
        return True

    def update_robot_health(self, robot_id: str, health_data: Any) -> None:
        """Score the robot's health (HealthMonitoringService.update_robot_health)."""
        entry = health_entry(robot_id, health_data, self.clock())
        entry['health_score'] = calculate_health_score(entry)
        entry['status'] = determine_health_status(entry)
        self.health_checks[robot_id] = entry

    def set_robot_status(self, robot_id: str, status: str, action: Optional[str] = None) -> bool:
        """Set status (and action), with a robot log line (RobotManager.set_robot_status)."""
        if robot_id not in self.robots:
            return False
        self.robots[robot_id]['status'] = status
        if action:
            self.robots[robot_id]['current_action'] = action
        self.robots[robot_id]['last_update'] = self.clock()
        with_action = f' with action {action}' if action else ''
        self.add_robot_log(robot_id, {'level': 'INFO',
                                      'message': f'Status changed to {status}{with_action}',
                                      'source': 'robot_manager'})
        return True

    def update_agent_heartbeat(self, agent_id: str, data: Any = None) -> bool:
        """Record a heartbeat; copy the nine keys into the robot (update_agent_heartbeat)."""
        agent = self.agents.get(agent_id)  # AgentRegistryService.update_agent_heartbeat
        if agent is None:
            return False
        agent['last_seen'] = self.clock()
        agent['status'] = 'online'
        if data:
            if 'system_metrics' in data:
                agent['system_metrics'] = data['system_metrics']
            if 'robot_status' in data:
                agent['robot_status'] = data['robot_status']
        if data:  # RobotManager.update_agent_heartbeat: `if success and data`
            robot_update = heartbeat_update(data)
            if robot_update:
                self.update_robot_status(agent_id, robot_update)
        return True

    def get_online_robots(self) -> List[Dict[str, Any]]:
        """Return robots updated in the last 5 minutes and not offline (get_online_robots)."""
        now = datetime.fromisoformat(self.clock())
        return [robot for robot in self.robots.values()
                if (now - datetime.fromisoformat(robot['last_update'])).total_seconds() < 300
                and robot['status'] != 'offline']

    # -- commands (services/command_service.py) ----------------------------------------------

    def record_command(self, command_data: Mapping[str, Any]) -> None:
        """Keep a copy of a new command in history and pending (send_command_to_robot)."""
        self.command_history.setdefault(command_data['robot_id'], []).append(dict(command_data))
        self.pending_commands[command_data['command_id']] = dict(command_data)

    def update_command_status(self, command_id: str, status: str,
                              error: Optional[str] = None) -> None:
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

    # -- logs (services/logging_service.py) --------------------------------------------------

    def add_robot_log(self, robot_id: str, log_entry: Any) -> Dict[str, Any]:
        """Store one robot log line with the hub's defaults (LoggingService.add_robot_log)."""
        log_data = {
            'timestamp': log_entry.get('timestamp', self.clock()),
            'level': log_entry.get('level', 'INFO'),
            'message': log_entry.get('message', ''),
            'source': log_entry.get('source', 'system'),
            'robot_id': robot_id,
        }
        for field in ('details', 'error_code', 'stack_trace'):
            if field in log_entry:
                log_data[field] = log_entry[field]
        logs = self.robot_logs.setdefault(robot_id, [])
        logs.append(log_data)
        del logs[:-MAX_ROBOT_LOGS]
        return log_data

    def add_system_log(self, log_entry: Mapping[str, Any]) -> None:
        """Store one system log line (LoggingService.add_system_log)."""
        log_data = {
            'timestamp': log_entry.get('timestamp', self.clock()),
            'level': log_entry.get('level', 'INFO'),
            'message': log_entry.get('message', ''),
            'source': log_entry.get('source', 'system'),
            'component': log_entry.get('component', 'core'),
        }
        for field in ('details', 'error_code', 'user_id', 'robot_id'):
            if field in log_entry:
                log_data[field] = log_entry[field]
        self.system_logs.append(log_data)
        del self.system_logs[:-MAX_SYSTEM_LOGS]

    def get_robot_logs(self, robot_id: str, limit: int = 100,
                       level: Optional[str] = None) -> List[Dict[str, Any]]:
        """
        Return the newest logs first; `level` is compared upper case (get_robot_logs).

        Sorting compares the stored timestamps: a log_entry whose timestamp is not a string
        (null, a number) makes this raise, as it does in the hub (a 500).
        """
        logs = self.robot_logs.get(robot_id, [])
        if level:
            logs = [log for log in logs if log['level'] == level.upper()]
        return sorted(logs, key=lambda x: x['timestamp'], reverse=True)[:limit]
