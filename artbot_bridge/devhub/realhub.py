"""
The real hub's bookkeeping, ported: what it stores, and where its agent reader dies.

The Artbot Control Hub (FastAPI, `backend/app/` of itsjustmahmoud/artbot-control-hub) keeps
robots, agents and logs in memory and runs arithmetic on what agents send. `HubState` repeats
that code statement for statement, with the same Python semantics, so whatever raises in the
real hub raises here too: a bool is an int and passes, None or a string raises, a huge integer
overflows. Each method names the real code it mirrors.

This module is pure (standard library only, no aiohttp), so the bridge's tests can import it
cheaply: `acceptance_error(kind, data)` and `frame_error(frame)` tell whether the real hub's
reader survives a message, `api_error(value)` whether its robot API can still answer once a
value is in a robot record.
"""

from datetime import datetime, timezone
import json
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union
import uuid

# robot_manager.update_agent_heartbeat: the only heartbeat keys copied into the robot record.
HEARTBEAT_KEYS = ('cpu_percent', 'memory_percent', 'temperature', 'battery_level',
                  'workspace_running', 'create3_connected', 'create3_status', 'oak_connected',
                  'uptime')
# robot_manager.update_robot_status: the health score runs when one of these is in the data.
HEALTH_TRIGGER_KEYS = ('battery_level', 'cpu_usage', 'memory_usage', 'temperature')
# health_monitoring._calculate_health_score: the keys its arithmetic reads (missing: 0).
HEALTH_KEYS = HEALTH_TRIGGER_KEYS + ('network_latency',)
# robot_manager.send_command_to_robot: actions that set the robot's status after delivery.
STATUS_FLIPS = {
    'start': ('active', 'person_following'),
    'stop': ('idle', 'stopped'),
    'restart': ('restarting', 'system_restart'),
    'reboot': ('rebooting', 'system_reboot'),
}
MAX_ROBOT_LOGS = 1000  # logging_service.add_robot_log
MAX_SYSTEM_LOGS = 5000  # logging_service.add_system_log
PROBE_ID = 'probe'  # the registered agent that acceptance_error and frame_error speak for

Outcome = Tuple[str, Any]


def utcnow() -> str:
    """Return a timestamp as the hub writes them: naive UTC, ISO 8601, microseconds."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat()


def describe(exc: BaseException) -> str:
    """Return an exception as one line: its type and message."""
    return f'{type(exc).__name__}: {exc}'


class ReaderDied(Exception):
    """The real hub's agent reader would have raised here (main.websocket_agent's except)."""

    def __init__(self, reason: str, message: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message  # the parsed JSON object, when the frame was one


# -- health monitoring (services/health_monitoring.py) --------------------------------------

def health_entry(robot_id: str, health_data: Any, timestamp: str) -> Dict[str, Any]:
    """Return the health record before scoring (HealthMonitoringService.update_robot_health)."""
    return {
        'robot_id': robot_id,
        'timestamp': timestamp,
        'battery_level': health_data.get('battery_level', 0),
        'cpu_usage': health_data.get('cpu_usage', 0),
        'memory_usage': health_data.get('memory_usage', 0),
        'temperature': health_data.get('temperature', 0),
        'disk_usage': health_data.get('disk_usage', 0),
        'network_latency': health_data.get('network_latency', 0),
        'errors_count': health_data.get('errors_count', 0),
        'uptime': health_data.get('uptime', 0),
    }


def calculate_health_score(health_data: Dict[str, Any]) -> float:
    """Return the score 0-100 (HealthMonitoringService._calculate_health_score, verbatim)."""
    scores = []

    battery = health_data['battery_level']
    if battery > 50:
        battery_score = 100
    elif battery > 20:
        battery_score = 50 + (battery - 20) * (50 / 30)
    else:
        battery_score = battery * (50 / 20)
    scores.append(battery_score * 0.3)

    cpu = health_data['cpu_usage']
    cpu_score = max(0, 100 - cpu)
    scores.append(cpu_score * 0.2)

    memory = health_data['memory_usage']
    memory_score = max(0, 100 - memory)
    scores.append(memory_score * 0.2)

    temp = health_data['temperature']
    if temp < 50:
        temp_score = 100
    elif temp < 70:
        temp_score = 100 - (temp - 50) * 2
    else:
        temp_score = max(0, 60 - (temp - 70) * 3)
    scores.append(temp_score * 0.15)

    latency = health_data['network_latency']
    if latency < 50:
        latency_score = 100
    elif latency < 200:
        latency_score = 100 - (latency - 50) * 0.5
    else:
        latency_score = max(0, 25 - (latency - 200) * 0.1)
    scores.append(latency_score * 0.15)

    return sum(scores)


def determine_health_status(health_data: Dict[str, Any]) -> str:
    """Return the health word for a score (HealthMonitoringService._determine_health_status)."""
    score = health_data['health_score']
    if score >= 80:
        return 'healthy'
    elif score >= 60:
        return 'good'
    elif score >= 40:
        return 'warning'
    elif score >= 20:
        return 'poor'
    else:
        return 'critical'


def heartbeat_update(data: Any) -> Dict[str, Any]:
    """Return the robot fields a heartbeat sets (robot_manager.update_agent_heartbeat)."""
    robot_update: Dict[str, Any] = {}
    if 'cpu_percent' in data:
        robot_update['cpu_usage'] = data['cpu_percent']
    if 'memory_percent' in data:
        robot_update['memory_usage'] = data['memory_percent']
    if 'temperature' in data:
        robot_update['temperature'] = data['temperature']
    if 'battery_level' in data:
        robot_update['battery_level'] = data['battery_level']
    if 'workspace_running' in data:
        robot_update['current_action'] = 'person_following' if data['workspace_running'] \
            else 'idle'
        robot_update['workspace_running'] = data['workspace_running']
    if 'create3_connected' in data:
        robot_update['create3_connected'] = data['create3_connected']
    if 'create3_status' in data:
        robot_update['create3_status'] = data['create3_status']
    if 'oak_connected' in data:
        robot_update['oak_connected'] = data['oak_connected']
    if 'uptime' in data:
        robot_update['uptime'] = data['uptime']
    return robot_update


# -- request bodies (routers/agents.py, routers/robots.py: pydantic 2 models) ----------------

def _field_errors(body: Any, fields: List[Tuple[str, type, bool]]) -> List[Dict[str, Any]]:
    """Return FastAPI-style 422 details for a JSON body against (name, type, required)."""
    if not isinstance(body, dict):
        return [{'type': 'model_attributes_type', 'loc': ['body'],
                 'msg': 'Input should be a valid dictionary or object to extract fields from'}]
    errors = []
    for name, kind, required in fields:
        if name not in body:
            if required:
                errors.append({'type': 'missing', 'loc': ['body', name], 'msg': 'Field required'})
        elif not isinstance(body[name], kind):  # pydantic 2 does not turn a number into a str
            code, word = ('string', 'string') if kind is str else ('dict', 'dictionary')
            errors.append({'type': f'{code}_type', 'loc': ['body', name],
                           'msg': f'Input should be a valid {word}'})
    return errors


def registration_errors(body: Any) -> List[Dict[str, Any]]:
    """Return why AgentRegistration refuses a body (422), or [] (routers/agents.py)."""
    return _field_errors(body, [('agent_id', str, True), ('hostname', str, True),
                                ('ip_address', str, True), ('system_info', dict, True),
                                ('robot_info', dict, False)])


def command_errors(body: Any) -> List[Dict[str, Any]]:
    """Return why RobotCommand refuses a body (422), or [] (routers/robots.py)."""
    return _field_errors(body, [('action', str, True), ('parameters', dict, False)])


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


# -- the registries ---------------------------------------------------------------------------

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
        self.pending_commands: Dict[str, Dict[str, Any]] = {}

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

    # -- commands (services/command_service.py, robot_manager.send_command_to_robot) ---------

    def new_command(self, robot_id: str, action: str, parameters: Any = None,
                    command_id: Optional[str] = None) -> Dict[str, Any]:
        """Return a pending command and record it (CommandService.send_command_to_robot)."""
        command_data = {
            'command_id': command_id or str(uuid.uuid4()),
            'robot_id': robot_id,
            'type': 'robot_command',
            'action': action,
            'parameters': parameters or {},
            'timestamp': self.clock(),
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

    # -- the agent socket (main.websocket_agent, ConnectionManager.handle_agent_message) -----

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
            known = self.update_agent_heartbeat(agent_id, data)
            return ('heartbeat' if known else 'heartbeat_ignored', data)
        elif message_type == 'robot_status':
            robot_data = message.get('data', {})
            known = self.update_robot_status(agent_id, robot_data)
            robot_data.get('last_update')  # broadcast_robot_update reads it
            return ('robot_status' if known else 'robot_status_ignored', robot_data)
        elif message_type == 'log_entry':
            log_data = message.get('data', {})
            stored = self.add_robot_log(agent_id, log_data)
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
