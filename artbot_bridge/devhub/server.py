"""
A local stand-in for the Artbot Control Hub, for demos and tests: aiohttp, one port.

It runs the real hub's own bookkeeping (`realhub.HubState`, ported from the hub's backend) and
is as harsh as the real hub wherever an agent has to survive it:

- **Reader death (a zombie).** The reader of an agent socket dies on a frame that is not a
  JSON object (bad JSON, an array, a binary frame) and on any message whose handling raises in
  the real hub: above all the health score over a heartbeat (cpu_percent, memory_percent,
  temperature, battery_level) or a robot_status (those as cpu_usage, memory_usage, ... and
  network_latency) carrying null or a non-number. The socket then leaves the connection table
  but stays open (later frames are read and ignored), the robot stays "online", and a command
  to it answers 500 without reaching the agent. `acceptance_error` tells in advance.
- A heartbeat copies only the nine keys of `realhub.HEARTBEAT_KEYS` into the robot record and
  is ignored unless the agent is registered; robot_status is merged as-is into an existing
  record, with no registration check (`"status": "online"` brings a robot back).
- Registration needs agent_id, hostname, ip_address (strings) and system_info (an object),
  422 otherwise, and resets the robot record to the hub's defaults.
- Any disconnect forgets the agent and marks its robot offline. A command is refused with 400
  unless the robot's status is exactly "online" (404 for an unknown robot); after delivering
  start, stop, restart or reboot the hub sets the status to active, idle, restarting or
  rebooting. Two sockets of one agent are both accepted and commands go to the first.
  Nothing is ever resent.
- Frames over 16 MiB are refused (1009); every socket is pinged each `ping_interval`.
- The robot API answers 500 once a record holds a value JSON cannot carry (NaN, Infinity).

Deliberate differences, for demos and tests: no operator token; `POST
/api/robots/{id}/command` accepts an optional `command_id` (a test repeats one to play a
resending hub) and answers 200 `{"command_id", "status": "sent", ...}` where the real hub
answers 500 after delivering; the robot record also carries `last_heartbeat` (Unix time of the
last accepted heartbeat; gone again on re-registration); `GET /api/robots/{id}/logs` takes
LoggingService's `level` filter, which the real route does not pass on; `/ws/dashboard` sends
whole records; a hub restart forgets everything but `events`; `GET /` serves a live dashboard
(static files in `static/`) that shows the record as the hub's robot card does. Everything the
hub sees is appended to `events` so that tests can assert on order.
"""

import asyncio
from importlib import resources
import json
import math
import ssl
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from aiohttp import web, WSCloseCode, WSMsgType

from . import realhub
from .realhub import acceptance_error, api_error, frame_error, HubState  # noqa: F401

MAX_FRAME = 16 * 1024 * 1024
DASHBOARD_LOGS = 200  # log lines per robot in the dashboard's first snapshot

# The dashboard's files, the only ones served from static/: name -> content type.
STATIC_FILES = {
    'index.html': 'text/html',
    'dashboard.css': 'text/css',
    'dashboard.js': 'text/javascript',
    'favicon.svg': 'image/svg+xml',
}
# The page loads only its own files and talks only to this hub; data is never markup.
DASHBOARD_HEADERS = {
    'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-cache',
}
# The real endpoints that send one fixed action, and how their 500 answer starts.
ACTION_ENDPOINTS = {
    'workspace/start': ('start_workspace', 'Failed to start workspace'),
    'workspace/stop': ('stop_workspace', 'Failed to stop workspace'),
    'create3/restart': ('restart_create3', 'Failed to restart Create3'),
    'create3/reboot': ('reboot_create3', 'Failed to reboot Create3'),
}
INTERNAL_ERROR = 'Internal Server Error'  # what FastAPI answers when a route raises


class DevHub:
    """The local hub: HTTP API, agent sockets and dashboard sockets on one port."""

    def __init__(self, host: str = '127.0.0.1', port: int = 8000,
                 ping_interval: float = 20.0, verbose: bool = False,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 token: Optional[str] = None) -> None:
        self.host = host
        self.verbose = verbose
        self.ssl_context = ssl_context
        self.token = token  # when set, agents must send `Authorization: Bearer <token>`
        self.port = port
        self.ping_interval = ping_interval
        self.events: List[Dict[str, Any]] = []
        self.state = HubState()
        # The connection table (ConnectionManager.active_connections['agent:<id>']).
        self.sockets: Dict[str, List[web.WebSocketResponse]] = {}
        self.dashboards: Set[web.WebSocketResponse] = set()
        self.zombies: Dict[str, str] = {}  # agent id -> why its last reader died
        self.close_on_connect: Optional[int] = None  # a close code: accept, then close at once
        self._agent_sockets: Set[web.WebSocketResponse] = set()  # open ones, zombies too
        self._system_info: Dict[str, Any] = {}  # for the dashboard, kept after a disconnect
        self._runner: Optional[web.AppRunner] = None

    @property
    def robots(self) -> Dict[str, Dict[str, Any]]:
        """Return the robot records by id (the hub's RobotRegistryService.robots)."""
        return self.state.robots

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen on host:port (port 0 picks one, kept for later restarts); return the port."""
        app = web.Application()
        add = app.router.add_route
        add('POST', '/api/agents/register', self._register)
        add('POST', '/api/agents/{agent_id}/heartbeat', self._http_heartbeat)
        add('GET', '/ws/agent/{agent_id}', self._agent_socket)
        add('GET', '/ws/dashboard', self._dashboard_socket)
        add('GET', '/api/robots', self._list_robots)
        add('GET', '/api/robots/', self._list_robots)
        add('GET', '/api/robots/{robot_id}', self._get_robot)
        add('GET', '/api/robots/{robot_id}/logs', self._get_logs)
        add('GET', '/api/robots/{robot_id}/metrics', self._get_metrics)
        add('POST', '/api/robots/{robot_id}/command', self._command)
        for path, (action, failure) in ACTION_ENDPOINTS.items():
            add('POST', f'/api/robots/{{robot_id}}/{path}', self._action_endpoint(action, failure))
        add('GET', '/api', self._index)
        add('GET', '/', self._dashboard)
        add('GET', '/static/{name}', self._static)
        app.on_shutdown.append(self._close_sockets)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True,
                           ssl_context=self.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._event('hub_started', port=self.port)
        return self.port

    async def stop(self) -> None:
        """Close every socket (1001) and stop listening; all state is forgotten, as on the hub."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.state = HubState()
        self.sockets.clear()
        self.dashboards.clear()
        self.zombies.clear()
        self._agent_sockets.clear()
        self._event('hub_stopped')

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._agent_sockets) + list(self.dashboards):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b'hub shutting down')

    # -- helpers ----------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> None:
        self.events.append({'kind': kind, 't': time.monotonic(), **fields})
        if self.verbose:
            print(summarize(kind, fields), flush=True)

    async def _broadcast(self, message: Dict[str, Any]) -> None:
        """Send to every dashboard; never raises (a dashboard never harms an agent's reader)."""
        if not self.dashboards:
            return
        try:
            text = dashboard_json(message)
        except Exception as exc:  # e.g. nesting too deep to encode
            self._event('broadcast_failed', type=message.get('type'), error=repr(exc))
            return
        for ws in list(self.dashboards):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.dashboards.discard(ws)

    def _view(self, robot_id: str) -> Dict[str, Any]:
        """Return what the dashboard shows beside the record: the hub's own view of it."""
        record = self.state.robots.get(robot_id)
        return {
            'registered': robot_id in self.state.agents,
            'sockets': len(self.sockets.get(robot_id, [])),
            'zombie': self.zombies.get(robot_id),
            'api_error': api_error(record),
            'system_info': self._system_info.get(robot_id),
        }

    async def _robot_update(self, robot_id: str) -> None:
        record = self.state.robots.get(robot_id)
        if record is None or not self.dashboards:
            return
        await self._broadcast({'type': 'robot_update', 'robot_id': robot_id, 'data': record,
                               'timestamp': record.get('last_update'),
                               'devhub': self._view(robot_id)})

    def _answer(self, content: Any, status: int = 200) -> web.Response:
        """Answer JSON as the hub does (allow_nan=False): what JSON cannot carry is a 500."""
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False)
        except (ValueError, TypeError, RecursionError) as exc:
            self._event('api_error', error=realhub.describe(exc))
            return web.Response(status=500, text=INTERNAL_ERROR)
        return web.Response(status=status, text=text, content_type='application/json')

    def _detail(self, status: int, detail: Any) -> web.Response:
        return web.json_response({'detail': detail}, status=status)

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

    def _refused(self, request: web.Request) -> Optional[web.Response]:
        """Return a 401 answer when a token is required and not given."""
        if self.token is None or request.headers.get('Authorization') == f'Bearer {self.token}':
            return None
        self._event('refused', path=request.path,
                    has_header='Authorization' in request.headers)
        return self._detail(401, 'not authenticated')

    async def _register(self, request: web.Request) -> web.Response:
        """POST /api/agents/register (routers/agents.register_agent)."""
        refused = self._refused(request)
        if refused is not None:
            return refused
        body = await self._json_body(request)
        errors = realhub.registration_errors(body)
        if errors:
            self._event('register_refused', body=body, errors=errors,
                        agent_id=body.get('agent_id') if isinstance(body, dict) else None)
            return self._detail(422, errors)
        agent_id = body['agent_id']
        self.state.register_agent(agent_id, {
            'hostname': body['hostname'], 'ip_address': body['ip_address'],
            'system_info': body['system_info'], 'robot_info': body.get('robot_info', {})})
        self._system_info[agent_id] = body['system_info']
        self.zombies.pop(agent_id, None)
        self._event('register', agent_id=agent_id, body=body)
        await self._robot_update(agent_id)
        return web.json_response({'message': f'Agent {agent_id} registered successfully',
                                  'agent_id': agent_id, 'status': 'registered'})

    async def _http_heartbeat(self, request: web.Request) -> web.Response:
        """POST /api/agents/{id}/heartbeat (routers/agents.agent_heartbeat): errors are 500s."""
        agent_id = request.match_info['agent_id']
        data = await self._json_body(request, default={})
        if not isinstance(data, dict):
            return self._detail(422, [{'type': 'dict_type', 'loc': ['body'],
                                       'msg': 'Input should be a valid dictionary'}])
        self._event('http_heartbeat', agent_id=agent_id, data=data)
        try:
            known = self.state.update_agent_heartbeat(agent_id, data)
        except Exception as exc:
            self._event('http_heartbeat_failed', agent_id=agent_id, error=realhub.describe(exc))
            return self._detail(500, f'Heartbeat processing failed: {exc}')
        await self._after(agent_id, ('heartbeat' if known else 'heartbeat_ignored', data))
        return web.json_response({'message': 'Heartbeat received', 'agent_id': agent_id,
                                  'timestamp': realhub.utcnow()})

    # -- HTTP: operators --------------------------------------------------------------------

    async def _list_robots(self, request: web.Request) -> web.Response:
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

    async def _get_robot(self, request: web.Request) -> web.Response:
        """GET /api/robots/{id} (routers/robots.get_robot): the record itself."""
        return self._answer(self._robot_or_404(request.match_info['robot_id']))

    async def _get_logs(self, request: web.Request) -> web.Response:
        """GET /api/robots/{id}/logs?limit=&level= (LoggingService.get_robot_logs)."""
        robot_id = request.match_info['robot_id']
        try:
            limit = int(request.query.get('limit', '100'))
        except ValueError:
            return self._detail(422, [{'type': 'int_parsing', 'loc': ['query', 'limit'],
                                       'msg': 'Input should be a valid integer'}])
        self._robot_or_404(robot_id)
        try:
            logs = self.state.get_robot_logs(robot_id, limit, request.query.get('level'))
        except TypeError as exc:  # timestamps that do not compare: the hub's sort raises
            self._event('api_error', robot_id=robot_id, error=realhub.describe(exc))
            return web.Response(status=500, text=INTERNAL_ERROR)
        return self._answer({'robot_id': robot_id, 'logs': logs, 'total': len(logs)})

    async def _get_metrics(self, request: web.Request) -> web.Response:
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
                             'agent_data': agent_data, 'timestamp': realhub.utcnow()})

    async def _command(self, request: web.Request) -> web.Response:
        """POST /api/robots/{id}/command {"action", "parameters"[, "command_id"]}."""
        body = await self._json_body(request)
        errors = realhub.command_errors(body)
        if not errors and 'command_id' in body and not isinstance(body['command_id'], str):
            errors = [{'type': 'string_type', 'loc': ['body', 'command_id'],
                       'msg': 'Input should be a valid string'}]
        if errors:
            return self._detail(422, errors)
        return await self._deliver(request.match_info['robot_id'], body['action'],
                                   body.get('parameters', {}), 'Failed to send command',
                                   body.get('command_id'))

    def _action_endpoint(self, action: str,
                         failure: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return await self._deliver(request.match_info['robot_id'], action, {}, failure)
        return handler

    async def _deliver(self, robot_id: str, action: str, parameters: Dict[str, Any],
                       failure: str, command_id: Optional[str] = None) -> web.Response:
        """Send a command as routers/robots.py and RobotManager.send_command_to_robot do."""
        robot = self._robot_or_404(robot_id)
        if robot.get('status') != 'online':
            self._event('command_refused', agent_id=robot_id, action=action,
                        status=robot.get('status'))
            return self._detail(400, f'Robot {robot_id} is not online')
        command = self.state.new_command(robot_id, action, parameters, command_id)
        if not await self._send_to_agent(robot_id, command):
            error = self.state.command_undelivered(command)
            self._event('command_failed', agent_id=robot_id, command=command, error=error)
            return self._detail(500, f'{failure}: {error}')
        self.state.command_delivered(command)
        self._event('command_sent', agent_id=robot_id, command=command)
        if action in realhub.STATUS_FLIPS:
            await self._robot_update(robot_id)
        return web.json_response({'success': True, 'command_id': command['command_id'],
                                  'robot_id': robot_id, 'status': 'sent',
                                  'message': f'Command {action} sent to robot {robot_id}'})

    async def _send_to_agent(self, agent_id: str, command: Dict[str, Any]) -> bool:
        """Send to the first socket in the table that takes it (send_to_agent)."""
        text = json.dumps(command)
        for ws in list(self.sockets.get(agent_id, [])):
            try:
                await ws.send_str(text)
                return True
            except Exception as exc:
                self._event('send_failed', agent_id=agent_id, error=repr(exc))
                self._forget_socket(agent_id, ws)
        return False

    async def _index(self, request: web.Request) -> web.Response:
        lines = [f'Artbot local hub on port {self.port}', '',
                 'GET  /                                    the live dashboard (HTML)',
                 'GET  /api                                 this text',
                 'POST /api/agents/register                 {"agent_id", "hostname", '
                 '"ip_address", "system_info", "robot_info"}',
                 'POST /api/agents/{id}/heartbeat           the flat heartbeat dict',
                 'WS   /ws/agent/{id}                       the agent socket',
                 'GET  /api/robots                          {"robots": [...], "total", "online"}',
                 'GET  /api/robots/{id}                     one robot record',
                 'GET  /api/robots/{id}/metrics             the core metrics',
                 'GET  /api/robots/{id}/logs?level=&limit=  the robot logs, newest first',
                 'POST /api/robots/{id}/command             {"action": ..., "parameters": {...}}',
                 *[f'POST /api/robots/{{id}}/{path:<27}sends {action}'
                   for path, (action, _) in ACTION_ENDPOINTS.items()],
                 'WS   /ws/dashboard                        robot_update, command_response, '
                 'log_message']
        return web.Response(text='\n'.join(lines) + '\n')

    async def _dashboard(self, request: web.Request) -> web.Response:
        return static_response('index.html')

    async def _static(self, request: web.Request) -> web.Response:
        return static_response(request.match_info['name'])

    # -- sockets ----------------------------------------------------------------------------

    def _forget_socket(self, agent_id: str, ws: web.WebSocketResponse) -> None:
        """Remove a socket from the connection table (ConnectionManager.disconnect)."""
        group = self.sockets.get(agent_id, [])
        if ws in group:
            group.remove(ws)

    async def _agent_socket(self, request: web.Request) -> web.StreamResponse:
        """WS /ws/agent/{id} (main.websocket_agent)."""
        agent_id = request.match_info['agent_id']
        refused = self._refused(request)
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(heartbeat=self.ping_interval, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        group = self.sockets.setdefault(agent_id, [])
        group.append(ws)
        self._agent_sockets.add(ws)
        self._event('connect', agent_id=agent_id, open_sockets=len(group),
                    registered=agent_id in self.state.agents)
        died: Optional[str] = None
        refused: Optional[int] = None  # the close code of a frame the hub refused
        try:
            if self.close_on_connect is not None:
                await ws.close(code=self.close_on_connect, message=b'closed on connect')
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:  # too big (1009), not UTF-8 (1007): closed
                    refused = getattr(msg.data, 'code', None)
                    break
                if died is not None:  # nobody reads this socket any more
                    self._event('unread', agent_id=agent_id, frame_type=msg.type.name)
                    continue
                died = await self._read_frame(agent_id, msg.data)
                if died is not None:
                    self._forget_socket(agent_id, ws)  # not closed, robot not marked offline
                    self.zombies[agent_id] = died
                    self._event('zombie', agent_id=agent_id, reason=died,
                                frame_type=msg.type.name)
                    await self._robot_update(agent_id)
        finally:
            self._agent_sockets.discard(ws)
            if died is None:  # the reader saw the disconnect: except WebSocketDisconnect
                self._forget_socket(agent_id, ws)
                self.state.remove_agent(agent_id)
            self._event('disconnect', agent_id=agent_id, close_code=refused or ws.close_code,
                        zombie=died is not None)
            await self._robot_update(agent_id)
        return ws

    async def _read_frame(self, agent_id: str, frame: Any) -> Optional[str]:
        """Read one frame with the hub's code; return why the reader died, or None."""
        try:
            await self._agent_message(agent_id, realhub.parse_frame(frame))
        except realhub.ReaderDied as died:
            return died.reason
        return None

    async def _agent_message(self, agent_id: str, message: Any) -> None:
        """Handle one parsed frame as the hub does (raises ReaderDied where the hub's does)."""
        if isinstance(message, dict):
            self._event('message', agent_id=agent_id, type=message.get('type'), message=message)
        outcome = self.state.read_message(agent_id, message)
        await self._after(agent_id, outcome)

    async def _after(self, agent_id: str, outcome: realhub.Outcome) -> None:
        """Do the local hub's own part after a message was handled: bookkeeping, dashboards."""
        kind, payload = outcome
        if kind == 'heartbeat':
            robot = self.state.robots.get(agent_id)
            if robot is not None:  # always, for a registered agent
                robot['last_heartbeat'] = time.time()
            await self._robot_update(agent_id)
        elif kind == 'robot_status':
            await self._robot_update(agent_id)
        elif kind == 'log_entry':
            await self._broadcast(payload[1])
        elif kind == 'command_response':
            await self._broadcast(payload)
        else:
            self._event(kind, agent_id=agent_id)

    async def _dashboard_socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=self.ping_interval)
        await ws.prepare(request)
        self.dashboards.add(ws)
        robots = {robot_id: {'data': record, 'devhub': self._view(robot_id),
                             'logs': self.state.robot_logs.get(robot_id, [])[-DASHBOARD_LOGS:]}
                  for robot_id, record in self.state.robots.items()}
        try:
            await ws.send_str(dashboard_json({'type': 'robots', 'robots': robots}))
        except Exception as exc:
            self._event('broadcast_failed', type='robots', error=repr(exc))
        try:
            async for _ in ws:
                pass
        finally:
            self.dashboards.discard(ws)
        return ws


def dashboard_json(message: Any) -> str:
    """Encode for the browser: NaN and infinities become the strings 'NaN', 'Infinity'."""
    try:
        return json.dumps(message, allow_nan=False, default=str)
    except ValueError:
        return json.dumps(_finite(message), allow_nan=False, default=str)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(value)  # 'NaN', 'Infinity', '-Infinity'
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def static_response(name: str) -> web.Response:
    """Answer with one of the dashboard's files (read on each request), or 404."""
    if name not in STATIC_FILES:
        raise web.HTTPNotFound(text=f'no such file: {name}\n')
    body = resources.files(__package__).joinpath('static').joinpath(name).read_bytes()
    return web.Response(body=body, content_type=STATIC_FILES[name], charset='utf-8',
                        headers=DASHBOARD_HEADERS)


def summarize(kind: str, fields: Dict[str, Any]) -> str:
    """Return one readable line for an event (the demo's live view)."""
    agent = fields.get('agent_id', '')
    message = fields.get('message') or {}
    data = message.get('data') if isinstance(message.get('data'), dict) else {}
    if kind == 'message' and fields.get('type') == 'heartbeat':
        kept = ' '.join(f'{k}={data[k]}' for k in realhub.HEARTBEAT_KEYS if k in data)
        dropped = [k for k in data if k not in realhub.HEARTBEAT_KEYS]
        return f'[{agent}] heartbeat {kept}' + (
            f' (dropped by the hub: {len(dropped)} keys)' if dropped else '')
    if kind == 'message' and fields.get('type') == 'robot_status':
        flat = {k: v for k, v in data.items() if k != 'sources'}
        stale = [n for n, s in (data.get('sources') or {}).items()
                 if isinstance(s, dict) and s.get('stale')]
        return f'[{agent}] robot_status {json.dumps(flat, default=str)} stale={stale}'
    if kind == 'message':
        return f'[{agent}] {fields.get("type")} {json.dumps(message, default=str)[:300]}'
    if kind == 'zombie':
        return f'[{agent}] ZOMBIE: the hub reader died ({fields.get("reason")})'
    if kind in ('command_sent', 'command_failed'):
        command = fields.get('command') or {}
        return f'[{agent}] {kind} {command.get("action")} {command.get("command_id")}'
    if kind in ('register', 'connect', 'disconnect', 'register_refused', 'command_refused'):
        extra = {k: v for k, v in fields.items()
                 if k in ('close_code', 'open_sockets', 'zombie', 'errors', 'status')}
        return f'[{agent}] {kind} {json.dumps(extra, default=str) if extra else ""}'.rstrip()
    return f'hub: {kind}' + (f' [{agent}]' if agent else '')


async def serve(hub: DevHub) -> None:
    """Run a DevHub until cancelled."""
    await hub.start()
    scheme = 'https' if hub.ssl_context else 'http'
    print(f'artbot local hub listening on {scheme}://{hub.host}:{hub.port}', flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await hub.stop()
