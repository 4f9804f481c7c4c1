"""
The heartbeat and robot_status data, in the hub's words.

The hub knows one robot by two sets of keys. The heartbeat may only set nine of them
(`cpu_percent`, `memory_percent`, `temperature`, `battery_level`, `workspace_running`,
`create3_connected`, `create3_status`, `oak_connected`, `uptime`); the operator's card reads
others that only robot_status can set (`battery`, `oak_camera_connected`, `workspace_status`,
`uptime_seconds`, `location`). The status sources name the robot's keys once; this module adds
the twin that the other message needs, so every tile of the card moves.
What the hub can take (no nulls, numbers where it computes) is `protocol.encode`'s guarantee.
"""

from typing import Any, Dict, Optional

from .status import StatusBoard
from ..core.metrics import SystemSampler
from ..core.reporter import Telemetry

# Heartbeat key -> the card's key that robot_status sets for the same fact.
HEARTBEAT_TWINS = {'oak_connected': 'oak_camera_connected'}


def create3_status(robot: Dict[str, Any]) -> Optional[str]:
    """Return the base's state in the original agent's words, or None if it is not known."""
    if 'create3_connected' not in robot:
        return None
    if not robot['create3_connected']:
        return 'disconnected'
    if robot.get('is_docked'):
        return 'docked'
    if robot.get('is_charging'):
        return 'charging'
    return 'active'


class RobotTelemetry(Telemetry):
    """Heartbeat from psutil plus the status sources' flat keys; robot_status from sources."""

    def __init__(self, board: StatusBoard, location: str = '',
                 sampler: Optional[SystemSampler] = None) -> None:
        self.board = board
        self.location = location
        self.sampler = sampler or SystemSampler()

    def heartbeat(self) -> Dict[str, Any]:
        """Return host metrics with the robot's flat keys over them, and the hub's twins."""
        data = self.sampler.sample()
        data.update(self.board.flat_keys())  # the robot's battery, where known, over the host's
        for key, card_key in HEARTBEAT_TWINS.items():
            if card_key in data:
                data.setdefault(key, data[card_key])
        if 'create3_status' not in data and create3_status(data) is not None:
            data['create3_status'] = create3_status(data)
        return data

    def robot_status(self) -> Dict[str, Any]:
        """Return the card's keys and the sources' report; `status: online` first."""
        report = self.board.robot_status()
        card: Dict[str, Any] = {'status': 'online', 'uptime_seconds': self.sampler.uptime()}
        if self.location:
            card['location'] = self.location
        if 'battery_level' in report:
            card['battery'] = report['battery_level']
        return {**card, **report}
