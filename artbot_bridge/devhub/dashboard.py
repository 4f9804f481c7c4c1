"""
The local hub's dashboards: the real hub's feed, and the page with its own, richer feed.

`/ws/dashboard` is the real hub's feed (ConnectionManager.broadcast_to_type, "dashboard"):
what its agent reader broadcasts, frame for frame, awaited inside the reader. `GET /` serves
`static/index.html`, which opens `/ws/devhub`: a snapshot of every robot first, then each
robot_update (the whole record, with the local hub's view of it), command_response and
log_message as it happens.
"""

import asyncio
from importlib import resources
import json
import math
import time
from typing import Any, Dict, Set

from aiohttp import web

from .agent_reader import Outcome
from .connections import Connections
from .events import EventLog
from .health import heartbeat_update
from .hubstate import HubState
from .realhub import api_error

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


class DashboardFeed:
    """The dashboards' sockets, the page and its files, and what is broadcast to them."""

    def __init__(self, state: HubState, connections: Connections, events: EventLog,
                 ping_interval: float) -> None:
        self.state = state
        self.connections = connections  # read only, for the page's view of each robot
        self.events = events
        self.ping_interval = ping_interval
        self.dashboards: Set[web.WebSocketResponse] = set()  # the page's sockets (/ws/devhub)
        self.feeds: Set[web.WebSocketResponse] = set()  # the real hub's feed (/ws/dashboard)
        self.system_info: Dict[str, Any] = {}  # for the page, kept after a disconnect

    # -- after each message -----------------------------------------------------------------

    async def after(self, agent_id: str, outcome: Outcome) -> None:
        """Do the local hub's own part after a message was handled: bookkeeping, dashboards."""
        kind, payload = outcome
        await self._feed_after(agent_id, kind, payload)
        if kind == 'heartbeat':
            robot = self.state.robots.get(agent_id)
            if robot is not None:  # always, for a registered agent
                robot['last_heartbeat'] = time.time()
            await self.robot_update(agent_id)
        elif kind == 'robot_status':
            await self.robot_update(agent_id)
        elif kind == 'log_entry':
            await self._broadcast(payload[1])
        elif kind == 'command_response':
            await self._broadcast(payload)
        else:
            self.events.record(kind, agent_id=agent_id)

    async def registered(self, agent_id: str, system_info: Any) -> None:
        """Keep a registered agent's system_info for the page, and show its fresh record."""
        self.system_info[agent_id] = system_info
        await self.robot_update(agent_id)

    async def robot_update(self, robot_id: str) -> None:
        """Send the robot's whole record, and the hub's view of it, to every page."""
        record = self.state.robots.get(robot_id)
        if record is None or not self.dashboards:
            return
        await self._broadcast({'type': 'robot_update', 'robot_id': robot_id, 'data': record,
                               'timestamp': record.get('last_update'),
                               'devhub': self._view(robot_id)})

    # -- the real hub's feed (/ws/dashboard) -------------------------------------------------

    async def _to_feeds(self, message: Dict[str, Any]) -> None:
        """Send to every feed client in turn, as the hub does (a failed one leaves the list)."""
        text = json.dumps(message)
        for ws in list(self.feeds):
            try:
                await ws.send_str(text)
            except Exception as exc:
                self.events.record('feed_failed', error=repr(exc))
                self.feeds.discard(ws)

    async def _feed_after(self, agent_id: str, kind: str, payload: Any) -> None:
        """Broadcast what the real hub's reader broadcasts after handling one message."""
        if kind == 'heartbeat' and payload and agent_id in self.state.robots:
            update = heartbeat_update(payload)  # update_robot_status's create_task
            if update:
                asyncio.ensure_future(self._to_feeds(
                    {'type': 'robot_update', 'robot_id': agent_id, 'data': update}))
        elif kind in ('robot_status', 'robot_status_ignored'):
            if kind == 'robot_status':
                asyncio.ensure_future(self._to_feeds(
                    {'type': 'robot_update', 'robot_id': agent_id, 'data': payload}))
            await self._to_feeds({'type': 'robot_update', 'robot_id': agent_id,
                                  'data': payload, 'timestamp': payload.get('last_update')})
        elif kind == 'log_entry':
            await self._to_feeds(payload[1])
        elif kind == 'command_response':
            await self._to_feeds(payload)

    async def feed_socket(self, request: web.Request) -> web.WebSocketResponse:
        """WS /ws/dashboard (main.websocket_dashboard): accept, read and ignore, until closed."""
        ws = web.WebSocketResponse(heartbeat=self.ping_interval)
        await ws.prepare(request)
        self.feeds.add(ws)
        try:
            async for _ in ws:
                pass
        finally:
            self.feeds.discard(ws)
        return ws

    # -- the page (/, /static, /ws/devhub) ---------------------------------------------------

    async def _broadcast(self, message: Dict[str, Any]) -> None:
        """Send to every page; never raises (a dashboard never harms an agent's reader)."""
        if not self.dashboards:
            return
        try:
            text = dashboard_json(message)
        except Exception as exc:  # e.g. nesting too deep to encode
            self.events.record('broadcast_failed', type=message.get('type'), error=repr(exc))
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
            'sockets': self.connections.count(robot_id),
            'zombie': self.connections.zombies.get(robot_id),
            'api_error': api_error(record),
            'system_info': self.system_info.get(robot_id),
        }

    async def page(self, request: web.Request) -> web.Response:
        """GET /: the dashboard page."""
        return static_response('index.html')

    async def static_file(self, request: web.Request) -> web.Response:
        """GET /static/{name}: one of the page's files."""
        return static_response(request.match_info['name'])

    async def page_socket(self, request: web.Request) -> web.WebSocketResponse:
        """WS /ws/devhub: a snapshot of every robot, then each update as it happens."""
        ws = web.WebSocketResponse(heartbeat=self.ping_interval)
        await ws.prepare(request)
        self.dashboards.add(ws)
        robots = {robot_id: {'data': record, 'devhub': self._view(robot_id),
                             'logs': self.state.robot_logs.get(robot_id, [])[-DASHBOARD_LOGS:]}
                  for robot_id, record in self.state.robots.items()}
        try:
            await ws.send_str(dashboard_json({'type': 'robots', 'robots': robots}))
        except Exception as exc:
            self.events.record('broadcast_failed', type='robots', error=repr(exc))
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
