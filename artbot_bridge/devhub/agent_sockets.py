"""The local hub's agent sockets (main.websocket_agent): each frame read, and a reader's death."""

import asyncio
from typing import Any, Optional

from aiohttp import web, WSMsgType

from .agent_reader import AgentReader, parse_frame, ReaderDied
from .connections import Connections
from .dashboard import DashboardFeed
from .events import EventLog
from .gate import TokenGate
from .hubstate import HubState

MAX_FRAME = 16 * 1024 * 1024
# Frames a dead reader's socket still reads: websockets 12's queue of 32, and 1 in hand.
ZOMBIE_READS = 33


class AgentSockets:
    """WS /ws/agent/{id}: reads each frame with the hub's reader, and dies where it dies."""

    def __init__(self, state: HubState, reader: AgentReader, connections: Connections,
                 feed: DashboardFeed, gate: TokenGate, events: EventLog, ping_interval: float,
                 close_on_connect: Optional[int] = None) -> None:
        self.state = state
        self.reader = reader
        self.connections = connections
        self.feed = feed
        self.gate = gate
        self.events = events
        self.ping_interval = ping_interval
        self.close_on_connect = close_on_connect  # a close code: accept, then close at once

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """WS /ws/agent/{id} (main.websocket_agent)."""
        agent_id = request.match_info['agent_id']
        refused = self.gate.refused(request)
        if refused is not None:
            return refused
        ws = web.WebSocketResponse(heartbeat=self.ping_interval, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        open_sockets = self.connections.connect(agent_id, ws)
        self.events.record('connect', agent_id=agent_id, open_sockets=open_sockets,
                           registered=agent_id in self.state.agents)
        died: Optional[str] = None
        unread = 0  # frames read after the reader died
        refused_code: Optional[int] = None  # the close code of a frame the hub refused
        try:
            if self.close_on_connect is not None:
                await ws.close(code=self.close_on_connect, message=b'closed on connect')
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:  # too big (1009), not UTF-8 (1007): closed
                    refused_code = getattr(msg.data, 'code', None)
                    break
                if died is not None:  # nobody handles this socket's frames any more
                    unread += 1
                    self.events.record('unread', agent_id=agent_id, frame_type=msg.type.name)
                    if unread >= ZOMBIE_READS:
                        await self._stop_reading(request, ws, agent_id)
                        break
                    continue
                died = await self._read_frame(agent_id, msg.data)
                if died is not None:
                    self.connections.reader_died(agent_id, ws, died)
                    self.events.record('zombie', agent_id=agent_id, reason=died,
                                       frame_type=msg.type.name)
                    await self.feed.robot_update(agent_id)
        finally:
            self.connections.closed(ws)
            if died is None:  # the reader saw the disconnect: except WebSocketDisconnect
                self.connections.forget(agent_id, ws)
                self.state.remove_agent(agent_id)
            self.events.record('disconnect', agent_id=agent_id,
                               close_code=refused_code or ws.close_code, zombie=died is not None)
            await self.feed.robot_update(agent_id)
        return ws

    async def _stop_reading(self, request: web.Request, ws: web.WebSocketResponse,
                            agent_id: str) -> None:
        """Read nothing more (no pong either) until the keepalive or the agent ends it."""
        self.events.record('stopped_reading', agent_id=agent_id)
        while not ws.closed and request.transport is not None \
                and not request.transport.is_closing():
            await asyncio.sleep(0.05)

    async def _read_frame(self, agent_id: str, frame: Any) -> Optional[str]:
        """Read one frame with the hub's code; return why the reader died, or None."""
        try:
            message = parse_frame(frame)
            if isinstance(message, dict):
                self.events.record('message', agent_id=agent_id, type=message.get('type'),
                                   message=message)
            outcome = self.reader.read_message(agent_id, message)
            await self.feed.after(agent_id, outcome)
        except ReaderDied as died:
            return died.reason
        return None
