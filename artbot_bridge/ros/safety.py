"""
Link-loss safety: when the hub link has been down for a grace period, stop the robot.

Optional and off by default (`safety_grace: 0`). Once per outage it publishes a zero
`geometry_msgs/Twist` on `safety_stop_topic` and/or calls the `std_srvs/Trigger` service
`safety_stop_service`, then reports what it did: a warning in the log, a counter in
diagnostics, and a `log_entry` the hub receives once the link is back.

A motion lease that ends as the link drops sends its stop at once; the safety stop then sends
no second one on that topic in the same outage.

Its state belongs to the ROS executor thread, which runs the check. The hub link's thread
only hands link changes (and those lease stops) over through a queue, so no interleaving of
the two threads can leave it armed wrongly (a link that came back between the check's read
and its write once kept the next outage from firing).
"""

import queue
import time
from typing import Any, Callable, Optional, Set, Tuple

from geometry_msgs.msg import Twist
from rclpy.node import Node
from std_srvs.srv import Trigger

from ..core.settings import Settings


class SafetyStop:
    """Watch the link state from a ROS timer and fire once per outage."""

    def __init__(self, node: Node, settings: Settings,
                 report: Callable[..., None]) -> None:
        self._node = node
        self._grace = settings.safety_grace
        self._report = report
        self._down_since: Optional[float] = time.monotonic()  # no link yet at start-up
        self._fired = False
        # (connected, when) for a link change; (None, topic) for a lease's stop at link loss.
        self._changes: 'queue.SimpleQueue[Tuple[Optional[bool], Any]]' = queue.SimpleQueue()
        self._stopped: Set[str] = set()  # topics a lease stopped in this outage
        self.stops = 0
        self._publisher = node.create_publisher(Twist, settings.safety_stop_topic, 10) \
            if settings.safety_stop_topic else None
        self._client = node.create_client(Trigger, settings.safety_stop_service) \
            if settings.safety_stop_service else None
        self._service = settings.safety_stop_service
        node.create_timer(min(0.1, self._grace / 4), self._check)

    def link(self, connected: bool) -> None:
        """Hand a link change over to the executor thread (any thread)."""
        self._changes.put((connected, time.monotonic()))

    def stopped(self, topic: str) -> None:
        """Note that a lease sent `topic` its stop as the link dropped (any thread)."""
        self._changes.put((None, topic))

    def _take_changes(self) -> None:
        while True:
            try:
                connected, at = self._changes.get_nowait()
            except queue.Empty:
                return
            if connected is None:
                self._stopped.add(at)
            elif connected:
                self._down_since, self._fired = None, False
                self._stopped.clear()
            elif self._down_since is None:
                self._down_since = at

    def _check(self) -> None:
        self._take_changes()
        since = self._down_since
        if self._fired or since is None or time.monotonic() - since < self._grace:
            return
        self._fired = True
        self.stops += 1
        done = []
        if self._publisher is not None:
            topic = self._publisher.topic_name
            if topic in self._stopped:
                done.append(f'{topic} already got its stop when a lease ended')
            else:
                self._publisher.publish(Twist())
                done.append(f'zero Twist on {topic}')
        if self._client is not None:
            if self._client.service_is_ready():
                self._client.call_async(Trigger.Request()).add_done_callback(self._answered)
                done.append(f'called {self._service}')
            else:
                done.append(f'{self._service} not available')
        message = (f'safety stop: no hub link for {self._grace:g} s; '
                   f'{", ".join(done) or "nothing configured"}')
        self._node.get_logger().warning(message)
        self._report('warn', message, source='safety')

    def _answered(self, future: Any) -> None:
        response = future.result()
        if response is not None:
            self._report('info', f'safety stop service answered: success={response.success} '
                                 f'{response.message}', source='safety')
