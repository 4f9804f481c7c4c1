"""
The command table on the ROS side.

Each allowed action calls a service, publishes on a topic or sends an action goal, with the
hub's parameters mapped onto the request fields (one target class per kind, in targets.py).
Handlers run on the hub link's event loop and never block it. Service calls and topic
messages are started straight from the loop thread: since rclpy 3.3 (Humble) `call_async`
registers its pending future under the client's lock, so no response can race its own
request. Action client calls (send the goal, ask for the result, cancel) and dropping a
timed-out service request are started on the executor thread (`Executor.create_task`): the
action client still races there (rclpy#1123). rclpy futures are bridged into asyncio futures
that carry the command's timeout.
"""

from typing import Dict, List

from rclpy.node import Node

from .targets import CommandTarget, LogSink, make_target, TopicTarget
from ..core.command_table import CommandSettings
from ..core.deadline import Deadline
from ..core.dispatcher import Handler


class CommandRouter:
    """Build the targets once; hand out one async handler per allowed action."""

    def __init__(self, node: Node, specs: 'tuple[CommandSettings, ...]', log: LogSink,
                 feedback_interval: float) -> None:
        self.targets: Dict[str, CommandTarget] = {
            spec.name: make_target(node, spec, log, feedback_interval) for spec in specs}

    def handlers(self) -> Dict[str, Handler]:
        """Return {action: handler} for every row of the table."""
        return {name: target.run for name, target in self.targets.items()}

    def deadlines(self) -> Dict[str, Deadline]:
        """Return {action: deadline} for the rows with a `max_age`."""
        return {name: Deadline(target.spec.max_age or 0.0, target.spec.when_unsure == 'run')
                for name, target in self.targets.items() if target.spec.max_age}

    def end_leases(self, why: str) -> List[str]:
        """End every running lease (loop thread); return the topics that got a stop message."""
        return [target.topic_name for target in self._leased() if target.end_lease(why)]

    @property
    def lease_stops(self) -> int:
        """Return how many stop messages the leases published (loop thread)."""
        return sum(target.stops for target in self._leased())

    def _leased(self) -> List[TopicTarget]:
        return [target for target in self.targets.values()
                if isinstance(target, TopicTarget) and target.spec.lease]
