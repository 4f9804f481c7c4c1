"""
What the hub side asks of the robot: the one seam between the hub link and ROS.

The ROS node implements it (`ros/node.py`); a test implements it with plain Python. Unless a
method says otherwise, the hub link's loop thread calls it, and it must not block.
"""

from typing import Any, Dict, Protocol, Union

from .deadline import Deadline
from .dispatcher import Handler
from .protocol import Command, ProtocolError


class RobotPort(Protocol):
    """The robot as the hub side sees it."""

    def heartbeat(self) -> Dict[str, Any]:
        """Return the heartbeat's data (may block: called off the loop)."""

    def robot_status(self) -> Dict[str, Any]:
        """Return robot_status data (may block: called off the loop)."""

    def status(self) -> Dict[str, Any]:
        """Return the robot's part of the `status` command's answer (and of ~/get_status)."""

    def registration(self) -> Dict[str, Any]:
        """Return the registration body but its agent id (may block: called off the loop)."""

    def handlers(self) -> Dict[str, Handler]:
        """Return {action: handler} of the command table, once, at construction."""

    def deadlines(self) -> Dict[str, Deadline]:
        """Return {action: deadline} of the rows with a `max_age`, once, at construction."""

    def link(self, connected: bool) -> None:
        """Take a change of the link: up, or down (the safety stop, leases, hub_connected)."""

    def stopping(self) -> None:
        """End what must not outlive the link (motion leases): the bridge is stopping."""

    def received(self, item: Union[Command, ProtocolError]) -> None:
        """Echo a command as it arrived (after its answer has gone out)."""

    def sent(self, kind: str, frame: str) -> None:
        """Echo an outbound frame (heartbeat, robot_status, command_response) as encoded."""

    def counters(self) -> Dict[str, Any]:
        """Return the robot side's counters that the loop owns (lease stops)."""
