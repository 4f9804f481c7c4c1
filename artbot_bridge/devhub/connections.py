"""The local hub's connection table (ConnectionManager): agent sockets and dead readers."""

import json
from typing import Any, Dict, List, Set

from aiohttp import web

from .events import EventLog


class Connections:
    """Which sockets each agent has, which of them are open, and why a reader died."""

    def __init__(self, events: EventLog) -> None:
        self.events = events
        # ConnectionManager.active_connections['agent:<id>']: commands go to the first.
        self.sockets: Dict[str, List[web.WebSocketResponse]] = {}
        self.zombies: Dict[str, str] = {}  # agent id -> why its last reader died
        self.open: Set[web.WebSocketResponse] = set()  # every open agent socket, zombies too

    def connect(self, agent_id: str, ws: web.WebSocketResponse) -> int:
        """Add an accepted socket to the table (ConnectionManager.connect); return the count."""
        group = self.sockets.setdefault(agent_id, [])
        group.append(ws)
        self.open.add(ws)
        return len(group)

    def count(self, agent_id: str) -> int:
        """Return how many sockets of the agent are in the table."""
        return len(self.sockets.get(agent_id, []))

    def forget(self, agent_id: str, ws: web.WebSocketResponse) -> None:
        """Remove a socket from the connection table (ConnectionManager.disconnect)."""
        group = self.sockets.get(agent_id, [])
        if ws in group:
            group.remove(ws)

    def reader_died(self, agent_id: str, ws: web.WebSocketResponse, reason: str) -> None:
        """Forget a socket whose reader died: not closed, and the robot not marked offline."""
        self.forget(agent_id, ws)
        self.zombies[agent_id] = reason

    def registered(self, agent_id: str) -> None:
        """Forget why the agent's last reader died: it registered again."""
        self.zombies.pop(agent_id, None)

    def closed(self, ws: web.WebSocketResponse) -> None:
        """Note that a socket has ended (its handler returns)."""
        self.open.discard(ws)

    async def send(self, agent_id: str, command: Dict[str, Any]) -> bool:
        """Send to the first socket in the table that takes it (send_to_agent)."""
        text = json.dumps(command)
        for ws in list(self.sockets.get(agent_id, [])):
            try:
                await ws.send_str(text)
                return True
            except Exception as exc:
                self.events.record('send_failed', agent_id=agent_id, error=repr(exc))
                self.forget(agent_id, ws)
        return False
