"""The local hub's HTTP API: the real hub's agent and robot routes, as harsh as they are."""

import json
import math
import time
from typing import Any, Awaitable, Callable, Dict, Optional

from aiohttp import web

from .agent_reader import describe
from .command_service import CommandBook, STATUS_FLIPS
from .connections import Connections
from .dashboard import DashboardFeed
from .events import EventLog
from .gate import detail, TokenGate
from .hubstate import HubState, utcnow
from .request_bodies import command_errors, registration_errors

# The real endpoints that send one fixed action, and how their 500 answer starts.
ACTION_ENDPOINTS = {
    'workspace/start': ('start_workspace', 'Failed to start workspace'),
    'workspace/stop': ('stop_workspace', 'Failed to stop workspace'),
    'create3/restart': ('restart_create3', 'Failed to restart Create3'),
    'create3/reboot': ('reboot_create3', 'Failed to reboot Create3'),
}
INTERNAL_ERROR = 'Internal Server Error'  # what FastAPI answers when a route raises


class HttpApi:
    """The HTTP routes of /api (routers/agents.py, routers/robots.py)."""

    def __init__(self, state: HubState, book: CommandBook, connections: Connections,
                 feed: DashboardFeed, gate: TokenGate, events: EventLog) -> None:
        self.state = state
        self.book = book
        self.connections = connections
        self.feed = feed
        self.gate = gate
        self.events = events

    # -- answers ----------------------------------------------------------------------------

    def _answer(self, content: Any, status: int = 200) -> web.Response:
        """Answer JSON as the hub does (allow_nan=False): what JSON cannot carry is a 500."""
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False)
        except (ValueError, TypeError, RecursionError) as exc:
            self.events.record('api_error', error=describe(exc))
            return web.Response(status=500, text=INTERNAL_ERROR)
        return web.Response(status=status, text=text, content_type='application/json')

    async def _json_body(self, request: web.Request, default: Any = None) -> Any:
        """Return the parsed body, `default` when empty; raise a 422 on invalid JSON."""
        raw = await request.read()
        if not raw:
            return default
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise web.HTTPUnprocessableEntity(
                text=json.dumps({'detail': [{'type': 'json_invalid', 'loc': ['body'],
                                             'msg': f'JSON decode error: {exc}'}]}),
                content_type='application/json') from None

    # -- HTTP: agents -----------------------------------------------------------------------

    async def register_agent(self, request: web.Request) -> web.Response:
        """POST /api/agents/register (routers/agents.register_agent)."""
        refused = self.gate.refused(request)
        if refused is not None:
            return refused
        body = await self._json_body(request)
        errors = registration_errors(body)
        if errors:
            self.events.record('register_refused', body=body, errors=errors,
                               agent_id=body.get('agent_id') if isinstance(body, dict) else None)
            return detail(422, errors)
        agent_id = body['agent_id']
        self.state.register_agent(agent_id, {
            'hostname': body['hostname'], 'ip_address': body['ip_address'],
            'system_info': body['system_info'], 'robot_info': body.get('robot_info', {})})
        self.connections.registered(agent_id)
        self.events.record('register', agent_id=agent_id, body=body)
        await self.feed.registered(agent_id, body['system_info'])
        return web.json_response({'message': f'Agent {agent_id} registered successfully',
                                  'agent_id': agent_id, 'status': 'registered'})

    async def http_heartbeat(self, request: web.Request) -> web.Response:
        """POST /api/agents/{id}/heartbeat (routers/agents.agent_heartbeat): errors are 500s."""
        agent_id = request.match_info['agent_id']
        data = await self._json_body(request, default={})
        if not isinstance(data, dict):
            return detail(422, [{'type': 'dict_type', 'loc': ['body'],
                                 'msg': 'Input should be a valid dictionary'}])
        self.events.record('http_heartbeat', agent_id=agent_id, data=data)
        try:
            known = self.state.update_agent_heartbeat(agent_id, data)
        except Exception as exc:
            self.events.record('http_heartbeat_failed', agent_id=agent_id, error=describe(exc))
            return detail(500, f'Heartbeat processing failed: {exc}')
        await self.feed.after(agent_id, ('heartbeat' if known else 'heartbeat_ignored', data))
        return web.json_response({'message': 'Heartbeat received', 'agent_id': agent_id,
                                  'timestamp': utcnow()})

    # -- HTTP: operators --------------------------------------------------------------------

    async def list_robots(self, request: web.Request) -> web.Response:
        """GET /api/robots (routers/robots.get_all_robots)."""
        return self._answer({'robots': list(self.state.robots.values()),
                             'total': len(self.state.robots),
                             'online': len(self.state.get_online_robots())})

    def _robot_or_404(self, robot_id: str) -> Dict[str, Any]:
        robot = self.state.robots.get(robot_id)
        if robot is None:
            raise web.HTTPNotFound(text=json.dumps({'detail': f'Robot {robot_id} not found'}),
                                   content_type='application/json')
        return robot

    async def get_robot(self, request: web.Request) -> web.Response:
        """GET /api/robots/{id} (routers/robots.get_robot): the record itself."""
        return self._answer(self._robot_or_404(request.match_info['robot_id']))

    async def get_logs(self, request: web.Request) -> web.Response:
        """GET /api/robots/{id}/logs?limit=&level= (LoggingService.get_robot_logs)."""
        robot_id = request.match_info['robot_id']
        try:
            limit = int(request.query.get('limit', '100'))
        except ValueError:
            return detail(422, [{'type': 'int_parsing', 'loc': ['query', 'limit'],
                                 'msg': 'Input should be a valid integer'}])
        self._robot_or_404(robot_id)
        try:
            logs = self.state.get_robot_logs(robot_id, limit, request.query.get('level'))
        except TypeError as exc:  # timestamps that do not compare: the hub's sort raises
            self.events.record('api_error', robot_id=robot_id, error=describe(exc))
            return web.Response(status=500, text=INTERNAL_ERROR)
        return self._answer({'robot_id': robot_id, 'logs': logs, 'total': len(logs)})

    async def get_metrics(self, request: web.Request) -> web.Response:
        """GET /api/robots/{id}/metrics (routers/robots.get_robot_metrics)."""
        robot_id = request.match_info['robot_id']
        robot = self._robot_or_404(robot_id)
        agent = self.state.agents.get(robot_id)
        core = {key: robot.get(source) for key, source in (
            ('robot_id', 'id'), ('agent_id', 'agent_id'), ('robot_name', 'name'),
            ('pi_hostname', 'hostname'), ('cpu_usage', 'cpu_usage'),
            ('temperature', 'temperature'), ('memory_usage', 'memory_usage'),
            ('oak_camera_connected', 'oak_connected'), ('create3_connected', 'create3_connected'),
            ('create3_status', 'create3_status'), ('battery_level', 'battery_level'),
            ('is_charging', 'is_charging'), ('is_docked', 'is_docked'),
            ('workspace_running', 'workspace_running'), ('current_action', 'current_action'),
            ('uptime', 'uptime'), ('ip_address', 'ip_address'), ('last_update', 'last_update'),
            ('status', 'status'))}
        agent_data = None if not agent else {key: agent.get(key) for key in
                                             ('hostname', 'last_seen', 'system_info')}
        return self._answer({'robot_id': robot_id, 'core_metrics': core,
                             'agent_data': agent_data, 'timestamp': utcnow()})

    async def send_command(self, request: web.Request) -> web.Response:
        """
        POST /api/robots/{id}/command {"action", "parameters"[, "command_id"]}.

        The local hub's own `?delay=SECONDS` stamps the command that much in the past, as if it
        had waited in a stalled link (the real hub stamps every command with its send time).
        """
        try:
            delay = float(request.query.get('delay', '0'))
        except ValueError:
            delay = math.nan
        if not 0 <= delay <= 86400:
            return detail(422, [{'type': 'float_type', 'loc': ['query', 'delay'],
                                 'msg': 'delay must be a number of seconds, 0 to 86400'}])
        body = await self._json_body(request)
        errors = command_errors(body)
        if not errors and 'command_id' in body and not isinstance(body['command_id'], str):
            errors = [{'type': 'string_type', 'loc': ['body', 'command_id'],
                       'msg': 'Input should be a valid string'}]
        if errors:
            return detail(422, errors)
        stamp = utcnow(time.time() - delay) if delay else None
        return await self._deliver(request.match_info['robot_id'], body['action'],
                                   body.get('parameters', {}), 'Failed to send command',
                                   body.get('command_id'), stamp)

    def action_endpoint(self, action: str,
                        failure: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Return the handler of an endpoint that sends one fixed action (ACTION_ENDPOINTS)."""
        async def handler(request: web.Request) -> web.Response:
            return await self._deliver(request.match_info['robot_id'], action, {}, failure)
        return handler

    async def _deliver(self, robot_id: str, action: str, parameters: Dict[str, Any],
                       failure: str, command_id: Optional[str] = None,
                       timestamp: Optional[str] = None) -> web.Response:
        """Send a command as routers/robots.py and RobotManager.send_command_to_robot do."""
        robot = self._robot_or_404(robot_id)
        if robot.get('status') != 'online':
            self.events.record('command_refused', agent_id=robot_id, action=action,
                               status=robot.get('status'))
            return detail(400, f'Robot {robot_id} is not online')
        command = self.book.new_command(robot_id, action, parameters, command_id, timestamp)
        if not await self.connections.send(robot_id, command):
            error = self.book.command_undelivered(command)
            self.events.record('command_failed', agent_id=robot_id, command=command, error=error)
            return detail(500, f'{failure}: {error}')
        self.book.command_delivered(command)
        self.events.record('command_sent', agent_id=robot_id, command=command)
        if action in STATUS_FLIPS:
            await self.feed.robot_update(robot_id)
        return web.json_response({'success': True, 'command_id': command['command_id'],
                                  'robot_id': robot_id, 'status': 'sent',
                                  'message': f'Command {action} sent to robot {robot_id}'})
