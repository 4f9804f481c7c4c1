"""The artbot_bridge node: wires ROS topics to the hub link and reports the link's state."""

import concurrent.futures
import platform
import socket
from typing import Any, Dict, Optional

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool

from . import __version__
from .hub_client import HubClient, Telemetry
from .loop_thread import LoopThread
from .metrics import SystemSampler
from .parameters import declare_and_read
from .protocol import Command
from .ros_codec import check_path, InterfaceTypeError, load_interface
from .settings import SettingsError
from .status import StatusBoard

# Latest value only: a subscription that keeps one message costs nothing at any rate.
LATEST_ONLY = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
BUILT_IN_ACTIONS = ('ping', 'status')


class RobotTelemetry(Telemetry):
    """Heartbeat from psutil plus the status sources' flat keys; robot_status from sources."""

    def __init__(self, board: StatusBoard) -> None:
        self.board = board
        self.sampler = SystemSampler()

    def heartbeat(self) -> Dict[str, Any]:
        """Return host metrics with the robot's flat keys over them."""
        data = self.sampler.sample()
        flat = self.board.flat_keys()
        if flat.get('battery_level') is None and 'battery_level' in flat:
            flat.pop('battery_level')  # keep the host's own battery, if it has one
        data.update(flat)
        return data

    def robot_status(self) -> Dict[str, Any]:
        """Return the status sources' report."""
        return self.board.robot_status()


class BridgeNode(Node):
    """One node per robot: status sources in, one hub link out."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__('artbot_bridge', **kwargs)
        self.settings = declare_and_read(self)
        self.board = StatusBoard(self.settings)
        for name, slot in self.board.slots.items():
            msg_type = self._source_type(name, slot.settings)
            self.create_subscription(msg_type, slot.settings.topic, slot.store, LATEST_ONLY)
        self._connected_pub = self.create_publisher(Bool, '~/hub_connected', LATCHED)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._connected: Optional[bool] = None
        self._loop = LoopThread()
        self.hub = HubClient(self.settings, RobotTelemetry(self.board), self._registration,
                             self._on_command, self._on_link, self.get_logger())
        self._on_link(False)
        self.create_timer(1.0, self._publish_diagnostics)

    def _source_type(self, name: str, source: Any) -> Any:
        """Load the source's message type and check its field paths, naming the parameter."""
        try:
            msg_type = load_interface(source.type)
        except InterfaceTypeError as err:
            raise SettingsError(f"invalid parameter '{name}.type': {err}") from None
        paths = [('fields', path) for path in source.fields]
        paths += [('flat', path) for _, path in source.flat]
        for param, path in paths:
            try:
                check_path(msg_type, path)
            except InterfaceTypeError as err:
                raise SettingsError(f"invalid parameter '{name}.{param}': {err}") from None
        return msg_type

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        """Start the hub link in its own thread."""
        self._loop.start()
        self._run = self._loop.submit(self.hub.run())
        self.get_logger().info(
            f'bridging to {self.settings.ws_url} as {self.settings.agent_id!r} '
            f'({len(self.board.slots)} status sources)')

    def shutdown(self) -> None:
        """Close the hub link cleanly (1001) and stop its thread; idempotent and bounded."""
        if self._loop.is_running:
            try:
                self._loop.run(self.hub.stop(), timeout=self.settings.close_timeout + 1.0)
                self._run.result(timeout=2.0)
            except concurrent.futures.CancelledError:
                pass  # stopped while registering or handshaking
            except Exception as err:  # noqa: B902 - shutdown goes on whatever happened
                self.get_logger().warning(f'hub link did not close cleanly: {err}')
        self._loop.stop()

    # -- hub side (called on the loop thread) -----------------------------------------------

    def _registration(self) -> Dict[str, Any]:
        return {
            'agent_id': self.settings.agent_id,
            'hostname': socket.gethostname(),
            'system_info': {
                'platform': platform.platform(),
                'python': platform.python_version(),
                'bridge_version': __version__,
                'node': self.get_fully_qualified_name(),
            },
            'robot_info': {'capabilities': list(BUILT_IN_ACTIONS),
                           'status_sources': list(self.board.slots)},
        }

    def _on_command(self, command: Command) -> None:
        if command.action == 'ping':
            self.hub.respond(command.command_id, True, {'message': 'pong'})
        elif command.action == 'status':
            self.hub.respond(command.command_id, True, {
                'message': 'status', 'result': {'robot_status': self.board.robot_status(),
                                                'link': self.hub.snapshot()}})
        else:
            self.hub.respond(command.command_id, False, {
                'message': f'unknown action {command.action!r}; allowed: '
                           f'{", ".join(BUILT_IN_ACTIONS)}'})

    def _on_link(self, connected: bool) -> None:
        if connected != self._connected:
            self._connected = connected
            self._connected_pub.publish(Bool(data=connected))

    # -- ROS side ---------------------------------------------------------------------------

    def _publish_diagnostics(self) -> None:
        stats = self.hub.snapshot()
        status = DiagnosticStatus(
            name='artbot_bridge: hub link', hardware_id=self.settings.agent_id,
            level=DiagnosticStatus.OK if stats['state'] == 'connected' else DiagnosticStatus.WARN,
            message=stats['state'] if not stats['last_error'] or stats['state'] == 'connected'
            else f"{stats['state']}: {stats['last_error']}")
        status.values = [KeyValue(key=key, value='' if value is None else str(value))
                         for key, value in stats.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics_pub.publish(array)
