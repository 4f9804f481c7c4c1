"""The artbot_bridge node: wires ROS topics, services and commands to the hub link."""

import json
import platform
import socket
from typing import Any, Dict, List, Optional, Union

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import Log
from rclpy.node import Node
try:
    from rclpy.event_handler import PublisherEventCallbacks, SubscriptionEventCallbacks
except ImportError:  # Humble
    from rclpy.qos_event import PublisherEventCallbacks, SubscriptionEventCallbacks
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool, String
from std_srvs.srv import SetBool, Trigger

from .commands import CommandRouter
from .diagnostics import Diagnostics, PERIOD
from .interfaces import check_row_paths, row_interface
from .logs import LogForwarder
from .parameters import declare_and_read, untyped_parameter
from .status import StatusBoard
from .stream import qos as stream_qos, StreamForwarder
from .telemetry import RobotTelemetry
from .. import __version__
from ..core.agent import HubAgent
from ..core.deadline import Deadline
from ..core.dispatcher import Handler
from ..core.loop_thread import LoopThreadError
from ..core.protocol import Command, ProtocolError

# Latest value only: a subscription that keeps one message costs nothing at any rate.
LATEST_ONLY = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
# Frames shown on ROS as the hub gets them: kind -> topic under the node's name.
FRAME_TOPICS = {'heartbeat': 'heartbeat', 'robot_status': 'robot_status',
                'command_response': 'command_responses'}
# The bridge's own topics skip rclpy's default QoS-event handlers: each is a waitable that
# every executor iteration visits, and on these topics a QoS mismatch is the peer's to report.
# Status sources keep theirs: there, an incompatible publisher is worth a warning.
QUIET_PUB = {'event_callbacks': PublisherEventCallbacks(use_default_callbacks=False)}
QUIET_SUB = {'event_callbacks': SubscriptionEventCallbacks(use_default_callbacks=False)}


class BridgeNode(Node):
    """
    One node per robot: status sources in, commands out, and one `HubAgent` for the hub side.

    The node creates the ROS entities and is the agent's robot (`core.port.RobotPort`): the
    agent asks it for telemetry and command handlers, and tells it about the link and the
    frames it sends. Methods under "the robot port" run on the agent's loop thread.
    """

    def __init__(self, **kwargs: Any) -> None:
        # Every given name is declared first, so that parameters.py can refuse a misspelt one.
        try:
            super().__init__('artbot_bridge',
                             automatically_declare_parameters_from_overrides=True, **kwargs)
        except ValueError as err:  # rclpy cannot declare a value with no type
            raise untyped_parameter(self, err) from None
        settings = self.settings = declare_and_read(self)
        self.board = StatusBoard(settings)
        source_types = {name: self._source_type(name, slot.settings)
                        for name, slot in self.board.slots.items()}  # bad types fail first
        self.telemetry = RobotTelemetry(self.board, settings.location)
        self.router = CommandRouter(self, settings.commands, self._log_line,
                                    settings.feedback_interval)
        self._connected_pub = self.create_publisher(Bool, '~/hub_connected', LATCHED,
                                                    **QUIET_PUB)
        self._commands_pub = self.create_publisher(String, '~/commands', 10, **QUIET_PUB)
        # What the hub gets, frame for frame (JSON text, as sent): `ros2 topic echo` shows it.
        self._frame_pubs = {kind: self.create_publisher(String, f'~/{topic}', 10, **QUIET_PUB)
                            for kind, topic in FRAME_TOPICS.items()}
        self._connected: Optional[bool] = None
        self.safety = None
        if settings.safety_grace > 0:
            from .safety import SafetyStop  # geometry_msgs is loaded only when configured
            self.safety = SafetyStop(self, settings, self._report)
        self.agent = HubAgent(settings, self, self.get_logger())
        self.streams: List[StreamForwarder] = []
        for name, slot in self.board.slots.items():
            if slot.settings.mode == 'stream':
                stream = StreamForwarder(slot, settings.agent_id, self.agent.call_soon,
                                         self.agent.stream_frame, self.agent.fresh)
                self.streams.append(stream)
                self.create_subscription(source_types[name], slot.settings.topic, stream.offer,
                                         stream_qos(settings.stream_max_age))
            else:
                self.create_subscription(source_types[name], slot.settings.topic, slot.store,
                                         LATEST_ONLY)
        self.link(False)
        logs = LogForwarder(self.agent.log, settings.hub_log_level, self.get_logger().name)
        self.create_subscription(String, '~/events', logs.on_event, 10, **QUIET_SUB)
        if settings.hub_log_level != 'none':
            self.create_subscription(Log, '/rosout', logs.on_rosout, QoSProfile(depth=100),
                                     **QUIET_SUB)
        self.create_service(Trigger, '~/reconnect', self._srv_reconnect)
        self.create_service(Trigger, '~/get_status', self._srv_get_status)
        self.create_service(SetBool, '~/set_telemetry', self._srv_set_telemetry)
        diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10,
                                                **QUIET_PUB)
        self.diagnostics = Diagnostics(settings.agent_id, self.agent.snapshot, self.board,
                                       self.streams, self.safety, self.agent.spool,
                                       diagnostics_pub, self.get_clock())
        self.create_timer(PERIOD, self.diagnostics.publish)

    @staticmethod
    def _source_type(name: str, source: Any) -> Any:
        """Load the source's message type and check its field paths, naming the parameter."""
        msg_type = row_interface(name, source.type)
        check_row_paths(name, msg_type, [('fields', path) for path in source.fields] +
                        [('flat', path) for _, path in source.flat])
        return msg_type

    def _log_line(self, level: str, message: str, **extra: Any) -> None:
        """Send a command target's line to the hub (action feedback, a lease's stop)."""
        self.agent.log(level, message, **extra)

    def _report(self, level: str, message: str, **extra: Any) -> None:
        """Send the safety stop's report to the hub, never refused."""
        self.agent.report(level, message, **extra)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self, executor: str = '') -> None:
        """Start the hub side; `executor` names the ROS side's, for the log."""
        self.agent.start()
        self.get_logger().info(
            f'bridging to {self.settings.ws_url} as {self.settings.agent_id!r} '
            f'({len(self.board.slots)} status sources, actions: '
            f'{", ".join(self.agent.allowed)}{"; " + executor if executor else ""})')

    def shutdown(self) -> None:
        """Answer or cancel running commands, end leases, close the link (1001), stop it."""
        self.agent.stop()

    # -- the robot port (the agent's loop thread) -------------------------------------------

    def heartbeat(self) -> Dict[str, Any]:
        """Return heartbeat data (off the loop: psutil may block)."""
        return self.telemetry.heartbeat()

    def robot_status(self) -> Dict[str, Any]:
        """Return robot_status data."""
        return self.telemetry.robot_status()

    def status(self) -> Dict[str, Any]:
        """Return the robot's part of the `status` answer."""
        return {'robot_status': self.board.robot_status()}

    def registration(self) -> Dict[str, Any]:
        """Return the registration body; the agent adds its agent id and the capabilities."""
        return {
            'hostname': socket.gethostname(),
            'system_info': {
                'platform': platform.platform(),
                'python': platform.python_version(),
                'bridge_version': __version__,
                'node': self.get_fully_qualified_name(),
            },
            'robot_info': {'status_sources': list(self.board.slots)},
        }

    def handlers(self) -> Dict[str, Handler]:
        """Return the command table's handlers."""
        return self.router.handlers()

    def deadlines(self) -> Dict[str, Deadline]:
        """Return the command table's deadlines."""
        return self.router.deadlines()

    def link(self, connected: bool) -> None:
        """Take a link change: leases end and the safety stop arms when it drops."""
        stopped = [] if connected else self.router.end_leases('ended: the hub link dropped')
        if self.safety is not None:
            self.safety.link(connected)
            for topic in stopped:  # the outage's stop on that topic is sent: not a second one
                self.safety.stopped(topic)
        if connected != self._connected:
            self._connected = connected
            self._connected_pub.publish(Bool(data=connected))

    def stopping(self) -> None:
        """End the leases: the bridge is stopping."""
        self.router.end_leases('ended: the bridge is stopping')

    def received(self, item: Union[Command, ProtocolError]) -> None:
        """Echo a command on `~/commands`."""
        if isinstance(item, Command):
            text = item.model_dump_json()
        else:
            text = json.dumps({'command_id': item.command_id, 'error': item.reason})
        self._commands_pub.publish(String(data=text))  # model_dump_json: depth is bounded

    def sent(self, kind: str, frame: str) -> None:
        """Echo an outbound frame on its topic, when anyone listens."""
        publisher = self._frame_pubs[kind]
        if publisher.get_subscription_count():  # nobody listening: costs nothing
            publisher.publish(String(data=frame))

    def counters(self) -> Dict[str, Any]:
        """Return the lease stops (the leases live on the loop)."""
        return {'lease_stops': self.router.lease_stops}

    # -- ROS side ---------------------------------------------------------------------------

    def _srv_reconnect(self, request: Trigger.Request,
                       response: Trigger.Response) -> Trigger.Response:
        self.agent.reconnect()
        response.success, response.message = True, 'reconnecting'
        return response

    def _srv_get_status(self, request: Trigger.Request,
                        response: Trigger.Response) -> Trigger.Response:
        try:  # made on the loop thread, which owns the link's state, and handed back
            snapshot = self.agent.status()
        except LoopThreadError as err:
            response.success, response.message = False, str(err)
            return response
        response.success = True
        response.message = json.dumps(snapshot, default=str)
        return response

    def _srv_set_telemetry(self, request: SetBool.Request,
                           response: SetBool.Response) -> SetBool.Response:
        self.agent.telemetry(request.data)
        response.success = True
        response.message = 'telemetry ' + ('resumed' if request.data else 'paused')
        return response
