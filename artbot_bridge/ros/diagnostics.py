"""
The hub link's health on `/diagnostics`, once a second.

`publish` runs on the executor thread (a timer). It reads the link's state and the loop's
counters on the loop thread, which owns them (`HubAgent.snapshot`), and what the executor
thread owns (status sources, stream limits, safety stops) directly; the outbox file reports
its health under its own lock.
"""

from typing import Any, Callable, Dict, Optional, Sequence, TYPE_CHECKING

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.clock import Clock
from rclpy.publisher import Publisher

from .status import StatusBoard
from .stream import StreamForwarder
from ..core.loop_thread import LoopThreadError

if TYPE_CHECKING:  # geometry_msgs and sqlite3 are loaded only when configured
    from .safety import SafetyStop
    from ..core.spool import Spool

PERIOD = 1.0  # seconds between two reports
NAME = 'artbot_bridge: hub link'


class Diagnostics:
    """Build and publish one DiagnosticStatus: the link's state, error and counters."""

    def __init__(self, agent_id: str, snapshot: Callable[[], Dict[str, Any]],
                 board: StatusBoard,
                 streams: Sequence[StreamForwarder], safety: Optional['SafetyStop'],
                 spool: Optional['Spool'], publisher: Publisher, clock: Clock) -> None:
        self._agent_id = agent_id
        self._snapshot = snapshot  # made on the loop thread; LoopThreadError while stopping
        self._board = board
        self._streams = streams
        self._safety = safety
        self._spool = spool
        self._publisher = publisher
        self._clock = clock

    def publish(self) -> None:
        """Publish the report (executor thread); nothing while the link's loop shuts down."""
        try:  # the loop's counters, read on the loop and handed back
            counters = self._snapshot()
        except LoopThreadError:
            return  # shutting down: the link is gone, and so is its report
        stats = counters.pop('link')
        connected = stats['state'] == 'connected'
        status = DiagnosticStatus(
            name=NAME, hardware_id=self._agent_id,
            level=DiagnosticStatus.OK if connected else DiagnosticStatus.WARN,
            message=stats['state'] if connected or not stats['last_error']
            else f"{stats['state']}: {stats['last_error']}")
        if self._safety is not None:
            stats['safety_stops'] = self._safety.stops
        if self._spool is not None:
            failures, failed = self._spool.health()
            stats.update(outbox_file_failures=failures, outbox_file_error=failed or '')
        stats.update(counters,
                     stream_messages_refused=sum(s.limit.refused for s in self._streams),
                     stale_sources=','.join(self._board.stale_names()))
        status.values = [KeyValue(key=key, value='' if value is None else str(value))
                         for key, value in stats.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self._clock.now().to_msg()
        self._publisher.publish(array)
