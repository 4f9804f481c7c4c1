"""
The link's telemetry: heartbeat and robot_status, on a fixed schedule, while a link is up.

Each message's data comes from the robot off the loop (psutil and the status sources may
block), is encoded once, queued as the latest of its kind (a newer one replaces one not sent
yet) and echoed to the robot side. The heartbeat carries the link's round trip, measured with
a ping of its own: keepalive pings come too rarely to report.
"""

import asyncio
import time
from typing import Any, Callable, Dict, List, Optional

import websockets

from .clock import HubClock
from .link import LinkStats
from .loop_thread import in_daemon_thread
from .outbox import Outbox
from .protocol import encode, STATUS_FLIPPING_ACTIONS
from .settings import Settings


class Telemetry:
    """What the link asks of the robot side; both calls may block and run off the loop."""

    def heartbeat(self) -> Dict[str, Any]:
        """Return heartbeat data."""
        raise NotImplementedError

    def robot_status(self) -> Dict[str, Any]:
        """Return robot_status data."""
        raise NotImplementedError


async def every(interval: float, produce: Callable[[], Any]) -> None:
    """Produce at once, then every `interval` on a fixed schedule (a slow one skips)."""
    due = time.monotonic()
    while True:
        await produce()
        due = max(due + interval, time.monotonic())
        await asyncio.sleep(due - time.monotonic())


class Reporter:
    """Heartbeat and robot_status for each link, and at once after a status-flipping action."""

    def __init__(self, settings: Settings, telemetry: Telemetry, outbox: Outbox,
                 stats: LinkStats, hub_clock: HubClock, on_frame: Callable[[str, str], None],
                 seq: Callable[[], Optional[int]], enabled: Callable[[], bool],
                 logger: Any) -> None:
        self._settings = settings
        self._telemetry = telemetry
        self._outbox = outbox
        self._stats = stats
        self._hub_clock = hub_clock
        self._on_frame = on_frame  # (kind, frame) as encoded, for the ROS side
        self._seq = seq  # the number the echo proof tracks a robot_status by
        self._enabled = enabled  # telemetry is on (~/set_telemetry)
        self._log = logger
        self._ws: Any = None
        self._rtt_waited = False  # the first heartbeat has waited for its round trip

    def tasks(self, ws: Any) -> List['asyncio.Future']:
        """Start reporting on `ws`; return the two tasks, which the link's end cancels."""
        self._ws = ws
        settings = self._settings
        return [asyncio.ensure_future(every(settings.heartbeat_interval, self.heartbeat)),
                asyncio.ensure_future(every(settings.monitor_interval, self.status))]

    def closed(self) -> None:
        """Note that the link is down: nothing is reported until the next one."""
        self._ws = None

    def answered(self, action: str) -> None:
        """Send robot_status at once after an action the hub flips the robot's status on."""
        if action in STATUS_FLIPPING_ACTIONS and self._ws is not None:
            asyncio.ensure_future(self.status())

    async def heartbeat(self) -> None:
        """Queue one heartbeat, with the link's round trip."""
        if not self._enabled():
            return
        data = await self._sample(self._telemetry.heartbeat, 'heartbeat')
        if data is not None:
            data['rtt_ms'] = await self._measure_rtt()
            self._frame('heartbeat', data)

    async def status(self) -> None:
        """Queue one robot_status."""
        if not self._enabled():
            return
        data = await self._sample(self._telemetry.robot_status, 'robot_status')
        if data is not None:
            self._frame('robot_status', data)

    def _frame(self, kind: str, data: Dict[str, Any]) -> None:
        seq = self._seq() if kind == 'robot_status' else None
        frame = encode(kind, self._settings.agent_id, data, seq=seq)
        self._outbox.put_latest(kind, frame)
        self._on_frame(kind, frame)

    async def _sample(self, produce: Callable[[], Dict[str, Any]],
                      kind: str) -> Optional[Dict[str, Any]]:
        try:
            return await in_daemon_thread(produce)
        except Exception as err:  # noqa: B902 - a bad sample skips one message, not the link
            self._log.error(f'could not build {kind}: {type(err).__name__}: {err}')
            return None

    async def _measure_rtt(self) -> Optional[float]:
        """
        Ping once and return the latest round trip in ms.

        The heartbeat goes out at once with the last measurement, and this ping's pong updates
        `stats.rtt_ms` whenever it comes, for the next one; only the very first heartbeat
        waits for its pong, a second at most.
        """
        started = time.monotonic()
        stats = self._stats

        def record(pong: 'asyncio.Future') -> None:
            if not pong.cancelled() and pong.exception() is None:
                self._hub_clock.round_trip(time.monotonic() - started)
                stats.rtt_ms = round((time.monotonic() - started) * 1000, 2)

        try:
            pong = await self._ws.ping()
        except websockets.exceptions.WebSocketException:
            return stats.rtt_ms  # keepalive decides whether the link is dead
        pong.add_done_callback(record)
        if not self._rtt_waited:
            self._rtt_waited = True
            await asyncio.wait([pong], timeout=min(1.0, self._settings.ping_timeout))
        return stats.rtt_ms
