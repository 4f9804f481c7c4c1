"""The artbot_bridge node: wires ROS topics, services and commands to the hub link."""

import concurrent.futures
import json
import platform
import socket
from typing import Any, Dict, List, Optional, Tuple, TYPE_CHECKING, Union

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
from .interfaces import check_path, InterfaceTypeError, load_interface
from .logs import LogForwarder
from .parameters import declare_and_read, untyped_parameter
from .status import StatusBoard
from .stream import qos as stream_qos, StreamForwarder
from .telemetry import RobotTelemetry
from .. import __version__
from ..core.builtins import BuiltIns
from ..core.clock import HubClock
from ..core.dispatcher import Dispatcher
from ..core.hub_client import HubClient
from ..core.loop_thread import LoopThread, LoopThreadError
from ..core.protocol import Command, ProtocolError
from ..core.settings import SettingsError

if TYPE_CHECKING:  # sqlite3 is loaded only when an outbox file is configured
    from ..core.spool import Spool

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
    """One node per robot: status sources in, commands out, one hub link."""

    def __init__(self, **kwargs: Any) -> None:
        # Every given name is declared first, so that parameters.py can refuse a misspelt one.
        try:
            super().__init__('artbot_bridge',
                             automatically_declare_parameters_from_overrides=True, **kwargs)
        except ValueError as err:  # rclpy cannot declare a value with no type
            raise untyped_parameter(self, err) from None
        self.settings = declare_and_read(self)
        self.board = StatusBoard(self.settings)
        source_types = {name: self._source_type(name, slot.settings)
                        for name, slot in self.board.slots.items()}  # bad types fail first
        self._loop = LoopThread()
        self.logs = LogForwarder(self._loop.call_soon, lambda **entry: self.hub.log_entry(**entry),
                                 self.settings.log_rate, self.settings.hub_log_level,
                                 self.get_logger().name)
        self.router = router = CommandRouter(self, self.settings.commands, self.logs.forward,
                                             self.settings.feedback_interval)
        self.hub_clock = HubClock()  # loop thread: fed by the link, read by the dispatcher
        # The built-ins run on the loop thread; self.hub, made below, is looked up when called.
        built_ins = BuiltIns(self.status_snapshot, self.logs.recent, lambda: self.hub.reconnect())
        specs = self.settings.commands
        self.dispatcher = Dispatcher(
            self.settings.agent_id, {**built_ins.handlers(), **router.handlers()},
            self._send_response, self.get_logger(),
            exclusive=[c.name for c in specs if not c.concurrent],
            system=[c.name for c in specs if c.system],
            per_minute=self.settings.max_commands_per_minute,
            max_running=self.settings.max_concurrent_commands,
            max_bytes=self.settings.max_response_bytes,
            memory_age=self.settings.command_memory_age,
            hub_clock=self.hub_clock, deadlines=router.deadlines())
        self.dispatcher.on_received = self._echo_command
        self.spool, pending = self._open_spool()
        telemetry = RobotTelemetry(self.board, self.settings.location)
        self.hub = HubClient(self.settings, telemetry, self._registration,
                             self.dispatcher.on_command, self._on_link, self.get_logger(),
                             self.spool, self.hub_clock)
        self.dispatcher.after_answer = self.hub.answered
        self.hub.running = lambda: self.dispatcher.ledger.running
        self.hub.outbox.preload(pending)
        self.streams: List[StreamForwarder] = []
        for name, slot in self.board.slots.items():
            if slot.settings.mode == 'stream':
                stream = StreamForwarder(slot, self.settings.agent_id, self._loop.call_soon,
                                         self.hub.stream_frame, self.hub.outbox.fresh)
                self.streams.append(stream)
                self.create_subscription(source_types[name], slot.settings.topic, stream.offer,
                                         stream_qos(self.settings.stream_max_age))
            else:
                self.create_subscription(source_types[name], slot.settings.topic, slot.store,
                                         LATEST_ONLY)
        self._connected_pub = self.create_publisher(Bool, '~/hub_connected', LATCHED,
                                                    **QUIET_PUB)
        self._commands_pub = self.create_publisher(String, '~/commands', 10, **QUIET_PUB)
        # What the hub gets, frame for frame (JSON text, as sent): `ros2 topic echo` shows it.
        self._frame_pubs = {kind: self.create_publisher(String, f'~/{topic}', 10, **QUIET_PUB)
                            for kind, topic in FRAME_TOPICS.items()}
        self.hub.on_frame = self._echo_frame
        diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10,
                                                **QUIET_PUB)
        self._connected: Optional[bool] = None
        self.safety = None
        if self.settings.safety_grace > 0:
            from .safety import SafetyStop  # geometry_msgs is loaded only when configured
            self.safety = SafetyStop(self, self.settings, self.logs.report)
        self._on_link(False)
        self.create_subscription(String, '~/events', self.logs.on_event, 10, **QUIET_SUB)
        if self.settings.hub_log_level != 'none':
            self.create_subscription(Log, '/rosout', self.logs.on_rosout, QoSProfile(depth=100),
                                     **QUIET_SUB)
        self.create_service(Trigger, '~/reconnect', self._srv_reconnect)
        self.create_service(Trigger, '~/get_status', self._srv_get_status)
        self.create_service(SetBool, '~/set_telemetry', self._srv_set_telemetry)
        self.diagnostics = Diagnostics(self.settings.agent_id, self._loop, self._loop_counters,
                                       self.board, self.streams, self.safety, self.spool,
                                       diagnostics_pub, self.get_clock())
        self.create_timer(PERIOD, self.diagnostics.publish)

    def _open_spool(self) -> Tuple[Optional['Spool'], List[Tuple[int, str, str]]]:
        """Open the outbox file; return it and the frames an earlier run left to deliver."""
        settings = self.settings
        if not settings.outbox_path:
            return None, []
        from ..core.spool import Spool
        spool = Spool(settings.outbox_path, max_age=settings.command_memory_age)
        pending, remembered = spool.load()
        if spool.failed:
            self.get_logger().error(f'outbox file: {spool.failed}')
        interrupted = self.dispatcher.recover(spool, remembered)
        self.get_logger().info(
            f'outbox file {settings.outbox_path}: {len(pending)} frames to deliver, '
            f'{len(remembered) - interrupted} answered commands remembered, '
            f'{interrupted} interrupted by a restart (answered as such, never run again)')
        return spool, pending

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

    def start(self, executor: str = '') -> None:
        """Start the hub link in its own thread; `executor` names the ROS side's, for the log."""
        self._loop.start()
        self._run = self._loop.submit(self.hub.run())
        self.get_logger().info(
            f'bridging to {self.settings.ws_url} as {self.settings.agent_id!r} '
            f'({len(self.board.slots)} status sources, actions: '
            f'{", ".join(self.dispatcher.allowed)}{"; " + executor if executor else ""})')

    def shutdown(self) -> None:
        """Answer or cancel running commands, close the link (1001), stop its thread."""
        if self._loop.is_running:
            try:
                self._loop.run(self.dispatcher.drain(1.0), timeout=3.0)
                self._loop.ask(lambda: self.router.end_leases('ended: the bridge is stopping'))
                self._loop.run(self.hub.stop(), timeout=self.settings.close_timeout + 1.0)
                self._run.result(timeout=2.0)
            except concurrent.futures.CancelledError:
                pass  # stopped while registering or handshaking
            except Exception as err:  # noqa: B902 - shutdown goes on whatever happened
                self.get_logger().warning(f'hub link did not close cleanly: {err}')
        self._loop.stop()
        if self.spool is not None:
            self.spool.close()

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
            'robot_info': {'capabilities': list(self.dispatcher.allowed),
                           'status_sources': list(self.board.slots)},
        }

    def _send_response(self, frame: str) -> None:
        self.hub.send_response(frame)
        self._echo_frame('command_response', frame)

    def _echo_frame(self, kind: str, frame: str) -> None:
        publisher = self._frame_pubs[kind]
        if publisher.get_subscription_count():  # nobody listening: costs nothing
            publisher.publish(String(data=frame))

    def _echo_command(self, item: Union[Command, ProtocolError]) -> None:
        if isinstance(item, Command):
            text = item.model_dump_json()
        else:
            text = json.dumps({'command_id': item.command_id, 'error': item.reason})
        self._commands_pub.publish(String(data=text))  # model_dump_json: depth is bounded

    def _on_link(self, connected: bool) -> None:
        stopped = [] if connected else self.router.end_leases('ended: the hub link dropped')
        if self.safety is not None:
            self.safety.link(connected)
            for topic in stopped:  # the outage's stop on that topic is sent: not a second one
                self.safety.stopped(topic)
        if connected != self._connected:
            self._connected = connected
            self._connected_pub.publish(Bool(data=connected))

    def status_snapshot(self) -> Dict[str, Any]:
        """Return the current robot_status and link state (loop thread)."""
        return {'robot_status': self.board.robot_status(), **self._loop_counters()}

    def _loop_counters(self) -> Dict[str, Any]:
        """Return what the loop thread owns: the link's state and counters (loop thread)."""
        return {'link': self.hub.snapshot(), 'commands_received': self.dispatcher.received,
                'command_repeats': self.dispatcher.ledger.repeats,
                'commands_expired': self.dispatcher.expired,
                'lease_stops': self.router.lease_stops, **self.hub_clock.report(),
                'log_lines_refused': self.logs.refused}

    # -- ROS side ---------------------------------------------------------------------------

    def _srv_reconnect(self, request: Trigger.Request,
                       response: Trigger.Response) -> Trigger.Response:
        self._loop.submit(self.hub.reconnect())
        response.success, response.message = True, 'reconnecting'
        return response

    def _srv_get_status(self, request: Trigger.Request,
                        response: Trigger.Response) -> Trigger.Response:
        try:  # made on the loop thread, which owns the link's state, and handed back
            snapshot = self._loop.ask(self.status_snapshot)
        except LoopThreadError as err:
            response.success, response.message = False, str(err)
            return response
        response.success = True
        response.message = json.dumps(snapshot, default=str)
        return response

    def _srv_set_telemetry(self, request: SetBool.Request,
                           response: SetBool.Response) -> SetBool.Response:
        self._loop.call_soon(self.hub.set_telemetry, request.data)
        response.success = True
        response.message = 'telemetry ' + ('resumed' if request.data else 'paused')
        return response
