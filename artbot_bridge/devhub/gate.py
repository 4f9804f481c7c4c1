"""Who may call the local hub (its own agent token), and FastAPI's `{"detail"}` answers."""

from typing import Any, Optional

from aiohttp import web

from .events import EventLog


def detail(status: int, content: Any) -> web.Response:
    """Answer `{"detail": content}` with `status`, as FastAPI's HTTPException does."""
    return web.json_response({'detail': content}, status=status)


class TokenGate:
    """The optional bearer token of the agent routes (a deliberate addition: the hub has none)."""

    def __init__(self, token: Optional[str], events: EventLog) -> None:
        self.token = token  # when set, agents must send `Authorization: Bearer <token>`
        self.events = events

    def refused(self, request: web.Request) -> Optional[web.Response]:
        """Return a 401 answer when a token is required and not given."""
        if self.token is None or request.headers.get('Authorization') == f'Bearer {self.token}':
            return None
        self.events.record('refused', path=request.path,
                           has_header='Authorization' in request.headers)
        return detail(401, 'not authenticated')
