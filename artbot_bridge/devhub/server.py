"""
A small local hub that speaks the Artbot Control Hub protocol, for demos and tests.

It behaves like the real hub where a client must cope with it: a disconnect forgets the agent
until it registers again, heartbeats from an unregistered agent are ignored, a frame that is not
a JSON object kills the reader of that socket (a zombie), and it pings every `ping_interval`.
Everything it sees is appended to `events` so tests can assert on order and concurrency.
`GET /` serves a live dashboard (static files in `static/`, fed by `/ws/dashboard`).
"""

import asyncio
from importlib import resources
import json
import ssl
import time
from typing import Any, Dict, List, Optional, Set
import uuid

from aiohttp import web, WSCloseCode, WSMsgType

MAX_FRAME = 16 * 1024 * 1024
MAX_LOGS = 200  # log lines kept per robot record (every robot_update carries them)

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
        self.robots: Dict[str, Dict[str, Any]] = {}
        self.sockets: Dict[str, List[web.WebSocketResponse]] = {}
        self.dashboards: Set[web.WebSocketResponse] = set()
        self._registered: Set[str] = set()
        self.close_on_connect: Optional[int] = None  # a close code: accept, then close at once
        self._runner: Optional[web.AppRunner] = None

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen on host:port (port 0 picks one, kept for later restarts); return the port."""
        app = web.Application()
        app.router.add_post('/api/agents/register', self._register)
        app.router.add_post('/api/agents/{agent_id}/heartbeat', self._http_heartbeat)
        app.router.add_get('/ws/agent/{agent_id}', self._agent_socket)
        app.router.add_get('/ws/dashboard', self._dashboard_socket)
        app.router.add_post('/api/robots/{robot_id}/command', self._command)
        app.router.add_get('/api/robots', self._list_robots)
        app.router.add_get('/api', self._index)
        app.router.add_get('/', self._dashboard)
        app.router.add_get('/static/{name}', self._static)
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
        """Close every socket (1001) and stop listening; state is forgotten, as on the hub."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._registered.clear()
        self.sockets.clear()
        self.dashboards.clear()
        for robot in self.robots.values():
            robot['status'] = 'offline'
        self._event('hub_stopped')

    async def _close_sockets(self, app: web.Application) -> None:
        sockets = [ws for group in self.sockets.values() for ws in group]
        for ws in sockets + list(self.dashboards):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b'hub shutting down')

    # -- helpers ----------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> None:
        self.events.append({'kind': kind, 't': time.monotonic(), **fields})
        if self.verbose:
            print(summarize(kind, fields), flush=True)

    async def _broadcast(self, message: Dict[str, Any]) -> None:
        text = json.dumps(message, default=str)
        for ws in list(self.dashboards):
            try:
                await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                self.dashboards.discard(ws)

    def _robot(self, agent_id: str) -> Dict[str, Any]:
        return self.robots.setdefault(agent_id, {'robot_id': agent_id, 'status': 'offline'})

    # -- HTTP -------------------------------------------------------------------------------

    def _refused(self, request: web.Request) -> Optional[web.Response]:
        """Return a 401 answer when a token is required and not given."""
        if self.token is None or request.headers.get('Authorization') == f'Bearer {self.token}':
            return None
        self._event('refused', path=request.path,
                    has_header='Authorization' in request.headers)
        return web.json_response({'detail': 'not authenticated'}, status=401)

    async def _register(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({'detail': 'invalid JSON'}, status=422)
        if not isinstance(body, dict) or not isinstance(body.get('agent_id'), str) \
                or not isinstance(body.get('system_info'), dict):
            return web.json_response({'detail': 'agent_id and system_info required'}, status=422)
        agent_id = body['agent_id']
        self._registered.add(agent_id)
        robot_info = body.get('robot_info') or {}
        self.robots[agent_id] = {
            'robot_id': agent_id, 'status': 'online', 'hostname': body.get('hostname'),
            'ip_address': body.get('ip_address'), 'system_info': body['system_info'],
            'capabilities': robot_info.get('capabilities', []), 'last_heartbeat': None,
        }
        self._event('register', agent_id=agent_id, body=body)
        await self._broadcast({'type': 'robot_update', 'robot': self.robots[agent_id]})
        return web.json_response(
            {'message': 'Agent registered', 'agent_id': agent_id, 'status': 'registered'})

    async def _http_heartbeat(self, request: web.Request) -> web.Response:
        agent_id = request.match_info['agent_id']
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({'detail': 'invalid JSON'}, status=422)
        await self._heartbeat(agent_id, body if isinstance(body, dict) else {})
        return web.json_response({'status': 'ok'})

    async def _command(self, request: web.Request) -> web.Response:
        robot_id = request.match_info['robot_id']
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get('action'), str):
            return web.json_response({'detail': 'expected {"action": ..., "parameters": {}}'},
                                     status=422)
        sockets = self.sockets.get(robot_id) or []
        if not sockets or robot_id not in self._registered:
            return web.json_response({'detail': f'robot {robot_id} not online'}, status=400)
        command = {
            'command_id': body.get('command_id') or str(uuid.uuid4()), 'robot_id': robot_id,
            'type': body.get('type', 'robot_command'), 'action': body.get('action'),
            'parameters': body.get('parameters') or {},
            'timestamp': time.strftime('%Y-%m-%dT%H:%M:%S'), 'status': 'pending',
        }
        await sockets[0].send_str(json.dumps(command))  # the hub sends to the first socket
        self._event('command_sent', agent_id=robot_id, command=command)
        return web.json_response({'command_id': command['command_id'], 'status': 'sent'})

    async def _list_robots(self, request: web.Request) -> web.Response:
        return web.json_response(self.robots, dumps=lambda o: json.dumps(o, default=str))

    async def _index(self, request: web.Request) -> web.Response:
        lines = [f'Artbot local hub on port {self.port}', '',
                 'GET  /                                the live dashboard (HTML)',
                 'GET  /api                             this text',
                 'GET  /api/robots                      robot records (JSON)',
                 'POST /api/robots/{id}/command         {"action": ..., "parameters": {...}}',
                 'WS   /ws/dashboard                    live robot_update / command_response']
        return web.Response(text='\n'.join(lines) + '\n')

    async def _dashboard(self, request: web.Request) -> web.Response:
        return static_response('index.html')

    async def _static(self, request: web.Request) -> web.Response:
        return static_response(request.match_info['name'])

    # -- sockets ----------------------------------------------------------------------------

    async def _agent_socket(self, request: web.Request) -> web.StreamResponse:
        agent_id = request.match_info['agent_id']
        refused = self._refused(request)
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(heartbeat=self.ping_interval, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        group = self.sockets.setdefault(agent_id, [])
        group.append(ws)
        self._event('connect', agent_id=agent_id, open_sockets=len(group),
                    registered=agent_id in self._registered)
        zombie = False
        try:
            if self.close_on_connect is not None:
                await ws.close(code=self.close_on_connect, message=b'closed on connect')
            async for msg in ws:
                if zombie:
                    continue
                message = None
                if msg.type == WSMsgType.TEXT:
                    try:
                        message = json.loads(msg.data)
                    except ValueError:
                        pass
                if not isinstance(message, dict):
                    zombie = True  # the real hub's reader dies here; the socket stays open
                    self._event('zombie', agent_id=agent_id, frame_type=str(msg.type))
                    continue
                await self._agent_message(agent_id, message)
        finally:
            group.remove(ws)
            self._registered.discard(agent_id)  # any disconnect forgets the agent
            self._robot(agent_id)['status'] = 'offline'
            self._event('disconnect', agent_id=agent_id, close_code=ws.close_code)
            await self._broadcast({'type': 'robot_update', 'robot': self._robot(agent_id)})
        return ws

    async def _agent_message(self, agent_id: str, message: Dict[str, Any]) -> None:
        kind = message.get('type')
        data = message.get('data') if isinstance(message.get('data'), dict) else {}
        self._event('message', agent_id=agent_id, type=kind, message=message)
        if kind == 'heartbeat':
            await self._heartbeat(agent_id, data)
        elif kind == 'robot_status':
            self._robot(agent_id).update(data)
            await self._broadcast({'type': 'robot_update', 'robot': self._robot(agent_id)})
        elif kind == 'command_response':
            await self._broadcast({**message, 'agent_id': agent_id})
        elif kind == 'log_entry':
            logs = self._robot(agent_id).setdefault('logs', [])
            logs.append(data)
            del logs[:-MAX_LOGS]
            await self._broadcast({'type': 'log_message', 'agent_id': agent_id, 'log': data})

    async def _heartbeat(self, agent_id: str, data: Dict[str, Any]) -> None:
        if agent_id not in self._registered:
            self._event('heartbeat_ignored', agent_id=agent_id)
            return
        robot = self._robot(agent_id)
        robot.update({k: v for k, v in data.items() if k not in ('cpu_percent', 'memory_percent')})
        robot['cpu_usage'] = data.get('cpu_percent')
        robot['memory_usage'] = data.get('memory_percent')
        robot['last_heartbeat'] = time.time()
        await self._broadcast({'type': 'robot_update', 'robot': robot})

    async def _dashboard_socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=self.ping_interval)
        await ws.prepare(request)
        self.dashboards.add(ws)
        await ws.send_str(json.dumps({'type': 'robots', 'robots': self.robots}, default=str))
        try:
            async for _ in ws:
                pass
        finally:
            self.dashboards.discard(ws)
        return ws


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
        keys = ('cpu_percent', 'memory_percent', 'battery_level', 'is_charging', 'is_docked',
                'workspace_running', 'rtt_ms')
        return f'[{agent}] heartbeat ' + ' '.join(f'{k}={data.get(k)}' for k in keys)
    if kind == 'message' and fields.get('type') == 'robot_status':
        flat = {k: v for k, v in data.items() if k != 'sources'}
        stale = [n for n, s in (data.get('sources') or {}).items() if s.get('stale')]
        return f'[{agent}] robot_status {json.dumps(flat)} stale={stale}'
    if kind == 'message':
        return f'[{agent}] {fields.get("type")} {json.dumps(message)[:300]}'
    if kind in ('register', 'connect', 'disconnect', 'command_sent', 'zombie'):
        extra = {k: v for k, v in fields.items() if k in ('close_code', 'open_sockets')}
        return f'[{agent}] {kind} {json.dumps(extra) if extra else ""}'.rstrip()
    return f'hub: {kind}'


async def serve(hub: DevHub) -> None:
    """Run a DevHub until cancelled."""
    await hub.start()
    scheme = 'https' if hub.ssl_context else 'http'
    print(f'artbot local hub listening on {scheme}://{hub.host}:{hub.port}', flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await hub.stop()
