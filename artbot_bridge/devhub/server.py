"""
A local stand-in for the Artbot Control Hub, for demos and tests: aiohttp, one port.

It runs the real hub's own bookkeeping (`hubstate.HubState`, ported from the hub's backend) and
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
- A heartbeat copies only the nine keys of `health.HEARTBEAT_KEYS` into the robot record and
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
- Every answer's `Date` header is the one uvicorn refreshed about a second ago
  (`UvicornDate`): it lags the hub's clock by up to two seconds.

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

How it is put together: `compose()` below is the one place where the parts meet. One state
object, `hubstate.HubState`, owns the hub's registries (robots, agents, logs, health checks,
commands). The parts each hold what they need, given to their constructors:
`agent_reader.AgentReader` and `command_service.CommandBook` hold the state;
`connections.Connections` is the connection table (which sockets, which readers died);
`dashboard.DashboardFeed` (the page, its files and both feeds) holds the state and the table;
`api.HttpApi` (the HTTP routes) and `agent_sockets.AgentSockets` (the agent sockets) hold the
state, their service, the table and the feed; both share `gate.TokenGate` and every part
records into the one `events.EventLog`. `DevHub` holds the options, the event log and the
running server; each start and each stop composes a fresh hub.
"""

import asyncio
from dataclasses import dataclass
from email.utils import formatdate
import ssl
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set

from aiohttp import web, WSCloseCode

from .agent_reader import AgentReader
from .agent_sockets import AgentSockets
from .api import ACTION_ENDPOINTS, HttpApi
from .command_service import CommandBook
from .connections import Connections
from .dashboard import DashboardFeed
from .events import EventLog
from .gate import TokenGate
from .hubstate import HubState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DATE_REFRESH = 1.0  # seconds: uvicorn's server refreshes its Date header once per second


@dataclass(frozen=True)
class Parts:
    """One composed hub: the state, and the parts that hold it."""

    state: HubState
    connections: Connections
    feed: DashboardFeed
    api: HttpApi
    agent_sockets: AgentSockets


def compose(events: EventLog, ping_interval: float, token: Optional[str] = None,
            close_on_connect: Optional[int] = None) -> Parts:
    """Build a fresh hub: each part gets what it holds through its constructor."""
    state = HubState()
    connections = Connections(events)
    gate = TokenGate(token, events)
    feed = DashboardFeed(state, connections, events, ping_interval)
    api = HttpApi(state, CommandBook(state), connections, feed, gate, events)
    agent_sockets = AgentSockets(state, AgentReader(state), connections, feed, gate, events,
                                 ping_interval, close_on_connect)
    return Parts(state, connections, feed, api, agent_sockets)


class UvicornDate:
    """
    The `Date` header as the real hub's server writes it.

    uvicorn refreshes it on a tick once a second from its start, so it lags the hub's clock by
    up to a second beyond its own one-second resolution.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._started = clock()

    async def stamp(self, request: web.Request, response: web.StreamResponse) -> None:
        """Write the Date of the last tick (aiohttp's on_response_prepare signal)."""
        now = self._clock()
        tick = now - (now - self._started) % DATE_REFRESH
        response.headers['Date'] = formatdate(tick, usegmt=True)


def application(parts: Parts, index: Handler) -> web.Application:
    """Return the routes of one composed hub, as the real hub's (and the page's)."""
    api, feed = parts.api, parts.feed
    app = web.Application()
    add = app.router.add_route
    add('POST', '/api/agents/register', api.register_agent)
    add('POST', '/api/agents/{agent_id}/heartbeat', api.http_heartbeat)
    add('GET', '/ws/agent/{agent_id}', parts.agent_sockets.handle)
    add('GET', '/ws/dashboard', feed.feed_socket)
    add('GET', '/ws/devhub', feed.page_socket)
    add('GET', '/api/robots', api.list_robots)
    add('GET', '/api/robots/', api.list_robots)
    add('GET', '/api/robots/{robot_id}', api.get_robot)
    add('GET', '/api/robots/{robot_id}/logs', api.get_logs)
    add('GET', '/api/robots/{robot_id}/metrics', api.get_metrics)
    add('POST', '/api/robots/{robot_id}/command', api.send_command)
    for path, (action, failure) in ACTION_ENDPOINTS.items():
        add('POST', f'/api/robots/{{robot_id}}/{path}', api.action_endpoint(action, failure))
    add('GET', '/api', index)
    add('GET', '/', feed.page)
    add('GET', '/static/{name}', feed.static_file)

    app.on_response_prepare.append(UvicornDate().stamp)

    async def close_sockets(app: web.Application) -> None:
        for ws in list(parts.connections.open) + list(feed.dashboards) + list(feed.feeds):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b'hub shutting down')
    app.on_shutdown.append(close_sockets)
    return app


class DevHub:
    """The local hub: HTTP API, agent sockets and dashboard sockets on one port."""

    def __init__(self, host: str = '127.0.0.1', port: int = 8000,
                 ping_interval: float = 20.0, verbose: bool = False,
                 ssl_context: Optional[ssl.SSLContext] = None,
                 token: Optional[str] = None, close_on_connect: Optional[int] = None) -> None:
        self.host = host
        self.port = port
        self.ping_interval = ping_interval
        self.ssl_context = ssl_context
        self.token = token  # when set, agents must send `Authorization: Bearer <token>`
        self.close_on_connect = close_on_connect  # a close code: accept, then close at once
        self.event_log = EventLog(verbose)
        self.events = self.event_log.entries  # kept across restarts
        # A fresh hub at each start (options set since then count) and each stop (a stopped
        # hub has forgotten everything, as the real one does).
        self.parts = self._compose()
        self._runner: Optional[web.AppRunner] = None

    def _compose(self) -> Parts:
        return compose(self.event_log, self.ping_interval, self.token, self.close_on_connect)

    # -- what tests look at -----------------------------------------------------------------

    @property
    def state(self) -> HubState:
        """Return the hub's registries."""
        return self.parts.state

    @property
    def robots(self) -> Dict[str, Dict[str, Any]]:
        """Return the robot records by id (the hub's RobotRegistryService.robots)."""
        return self.parts.state.robots

    @property
    def sockets(self) -> Dict[str, List[web.WebSocketResponse]]:
        """Return the connection table: each agent's sockets, commands going to the first."""
        return self.parts.connections.sockets

    @property
    def zombies(self) -> Dict[str, str]:
        """Return why each agent's last reader died."""
        return self.parts.connections.zombies

    @property
    def feeds(self) -> Set[web.WebSocketResponse]:
        """Return the clients of the real hub's feed (/ws/dashboard)."""
        return self.parts.feed.feeds

    @property
    def dashboards(self) -> Set[web.WebSocketResponse]:
        """Return the page's sockets (/ws/devhub)."""
        return self.parts.feed.dashboards

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen on host:port (port 0 picks one, kept for later restarts); return the port."""
        self.parts = self._compose()
        self._runner = web.AppRunner(application(self.parts, self._index),
                                     handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True,
                           ssl_context=self.ssl_context)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.event_log.record('hub_started', port=self.port)
        return self.port

    async def stop(self) -> None:
        """Close every socket (1001) and stop listening; all state is forgotten, as on the hub."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.parts = self._compose()
        self.event_log.record('hub_stopped')

    # -- GET /api ------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        """GET /api: the routes, as text."""
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
                 "WS   /ws/dashboard                        the real hub's feed: robot_update, "
                 'command_response, log_message',
                 "WS   /ws/devhub                           the dashboard page's feed: whole "
                 'records']
        return web.Response(text='\n'.join(lines) + '\n')


async def serve(hub: DevHub) -> None:
    """Run a DevHub until cancelled."""
    await hub.start()
    scheme = 'https' if hub.ssl_context else 'http'
    print(f'artbot local hub listening on {scheme}://{hub.host}:{hub.port}', flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await hub.stop()
