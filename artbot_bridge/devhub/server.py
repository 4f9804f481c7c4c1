"""
A local stand-in for the Artbot Control Hub, for demos and tests: aiohttp, one port.

It runs the real hub's own bookkeeping (`realhub.HubState`, ported from the hub's backend) and
is as harsh as the real hub wherever an agent has to survive it:

- **Reader death (a zombie).** The reader of an agent socket dies on a frame that is not a
  JSON object (bad JSON, an array, a binary frame) and on any message whose handling raises in
  the real hub: above all the health score over a heartbeat (cpu_percent, memory_percent,
  temperature, battery_level) or a robot_status (those as cpu_usage, memory_usage, ... and
  network_latency) carrying null or a non-number. The socket then leaves the connection table
  but stays open, the robot stays "online", and a command to it answers 500 without reaching
  the agent. As uvicorn 0.24 with websockets 12 do, the socket goes on reading (and answering
  pings) for ZOMBIE_READS more frames, which nobody handles, then reads nothing more, until
  the keepalive ends it. `acceptance_error` tells in advance.
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
- `/ws/dashboard` broadcasts what the real hub's agent reader broadcasts, in its order and
  nothing else: each command_response, each log_entry as log_message, each robot_status as
  robot_update with its data as sent (awaited inside the reader), and, as a task of its own,
  the robot_update of every record update (a registered agent's heartbeat keys, a known
  robot's robot_status). A slow feed client slows every agent's reader, as on the hub.
- The robot API answers 500 once a record holds a value JSON cannot carry (NaN, Infinity).

Deliberate differences, for demos and tests: no operator token; `POST
/api/robots/{id}/command` accepts an optional `command_id` (a test repeats one to play a
resending hub) and answers 200 `{"command_id", "status": "sent", ...}` where the real hub
answers 500 after delivering; the robot record also carries `last_heartbeat` (Unix time of the
last accepted heartbeat; gone again on re-registration); `GET /api/robots/{id}/logs` takes
LoggingService's `level` filter, which the real route does not pass on; the page's own feed,
`/ws/devhub`, sends whole records (`/ws/dashboard` is the real hub's feed, frame for frame);
a hub restart forgets everything but `events`; `GET /` serves a live
dashboard (static files in `static/`) that shows the record as the hub's robot card does.
Everything the hub sees is appended to `events` so that tests can assert on order.

`DevHub` is put together from one part per concept: `api.HttpApi` (the HTTP routes),
`agent_sockets.AgentSockets` (the agent sockets and the connection table) and
`dashboard.DashboardFeed` (the page, its files and the live feed); this module holds the
lifecycle and the event log, and every name the parts define is importable from here.
"""

import asyncio
import json
import ssl
import time
from typing import Any, Dict, List, Optional, Set

from aiohttp import web, WSCloseCode

from . import realhub
from .agent_sockets import AgentSockets, MAX_FRAME  # noqa: F401
from .api import ACTION_ENDPOINTS, HttpApi, INTERNAL_ERROR  # noqa: F401
from .dashboard import _finite, DASHBOARD_HEADERS, dashboard_json, DASHBOARD_LOGS  # noqa: F401
from .dashboard import DashboardFeed, STATIC_FILES, static_response  # noqa: F401
from .realhub import acceptance_error, api_error, frame_error, HubState  # noqa: F401


class DevHub(HttpApi, AgentSockets, DashboardFeed):
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
        self.dashboards: Set[web.WebSocketResponse] = set()  # the page's sockets (/ws/devhub)
        self.feeds: Set[web.WebSocketResponse] = set()  # the real hub's feed (/ws/dashboard)
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
        add('GET', '/ws/dashboard', self._feed_socket)
        add('GET', '/ws/devhub', self._dashboard_socket)
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
        self.feeds.clear()
        self.zombies.clear()
        self._agent_sockets.clear()
        self._event('hub_stopped')

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._agent_sockets) + list(self.dashboards) + list(self.feeds):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b'hub shutting down')

    # -- events -----------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> None:
        self.events.append({'kind': kind, 't': time.monotonic(), **fields})
        if self.verbose:
            print(summarize(kind, fields), flush=True)


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
