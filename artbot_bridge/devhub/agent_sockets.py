"""The local hub's agent sockets (main.websocket_agent, ConnectionManager): read, zombies."""

import asyncio
import json
import time
from typing import Any, Dict, List, Optional, Set

from aiohttp import web, WSMsgType

from . import realhub
from .hubstate import HubState

MAX_FRAME = 16 * 1024 * 1024
# Frames a dead reader's socket still reads: websockets 12's queue of 32, and 1 in hand.
ZOMBIE_READS = 33


class AgentSockets:
    """WS /ws/agent/{id} and the connection table: DevHub's part."""

    ping_interval: float
    close_on_connect: Optional[int]
    state: HubState
    sockets: Dict[str, List[web.WebSocketResponse]]
    zombies: Dict[str, str]
    _agent_sockets: Set[web.WebSocketResponse]

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
        unread = 0  # frames read after the reader died
        refused: Optional[int] = None  # the close code of a frame the hub refused
        try:
            if self.close_on_connect is not None:
                await ws.close(code=self.close_on_connect, message=b'closed on connect')
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:  # too big (1009), not UTF-8 (1007): closed
                    refused = getattr(msg.data, 'code', None)
                    break
                if died is not None:  # nobody handles this socket's frames any more
                    unread += 1
                    self._event('unread', agent_id=agent_id, frame_type=msg.type.name)
                    if unread >= ZOMBIE_READS:
                        await self._stop_reading(request, ws, agent_id)
                        break
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

    async def _stop_reading(self, request: web.Request, ws: web.WebSocketResponse,
                            agent_id: str) -> None:
        """Read nothing more (no pong either) until the keepalive or the agent ends it."""
        self._event('stopped_reading', agent_id=agent_id)
        while not ws.closed and request.transport is not None \
                and not request.transport.is_closing():
            await asyncio.sleep(0.05)

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
        await self._feed_after(agent_id, kind, payload)
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
