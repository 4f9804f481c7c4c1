"""Shared fixtures: DDS isolation, the local hub, bridge processes, a ROS node for the test."""

import os
import re
import threading
from typing import Any, Callable, Dict, Iterator, List, Tuple

from harness import BridgeProcess, FAST, HubHarness
import pytest

# One DDS domain per test run (scripts/test.sh picks it), and discovery kept on loopback.
os.environ.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 90 + 10))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
if os.environ.get('ROS_DISTRO') == 'humble':
    os.environ.setdefault('ROS_LOCALHOST_ONLY', '1')


@pytest.fixture
def hub() -> Iterator[HubHarness]:
    """Return a started local hub on a free loopback port."""
    harness = HubHarness()
    harness.start()
    yield harness
    harness.close()


# Lines of each bridge's log shown under a test that failed.
LOG_TAIL = 80


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: Any, call: Any) -> Iterator[None]:
    """Keep each phase's report on the test item, for fixtures to see whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f'report_{report.when}', report)


@pytest.fixture
def start_bridge(request: Any) -> Iterator[Callable[..., BridgeProcess]]:
    """
    Return a factory of bridge processes (fast timings merged in); all are stopped after.

    When the test failed, the end of each bridge's log is printed with its report.
    """
    started: List[BridgeProcess] = []

    def start(params: Dict[str, Any], env: Dict[str, str] = None,
              ros_args: Tuple[str, ...] = ()) -> BridgeProcess:
        bridge = BridgeProcess({**FAST, **params}, env, ros_args)
        started.append(bridge)
        return bridge

    yield start
    report = getattr(request.node, 'report_call', None)
    for number, bridge in enumerate(started):
        if report is not None and report.failed:
            tail = bridge.output().splitlines()[-LOG_TAIL:]
            print(f'--- bridge {number}, last {len(tail)} lines of its log', *tail, sep='\n')
        bridge.close()


class RosPeer:
    """A node of the test's own, in a private context, spun in a thread."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self.context = rclpy.Context()
        rclpy.init(context=self.context, signal_handler_options=_no_signals())
        self.node = rclpy.create_node('artbot_bridge_test_peer', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def collect(self, msg_type: Any, topic: str, qos: Any = 10) -> List[Any]:
        """Subscribe and return the list that received messages are appended to."""
        received: List[Any] = []
        self.node.create_subscription(msg_type, topic, received.append, qos)
        return received

    def close(self) -> None:
        """Shut down in a fixed order: executor, node, context, thread."""
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(5.0)


def _no_signals() -> Any:
    from rclpy.signals import SignalHandlerOptions
    return SignalHandlerOptions.NO


@pytest.fixture
def ros() -> Iterator[RosPeer]:
    """Return a ROS node for publishing and subscribing from the test."""
    peer = RosPeer()
    yield peer
    peer.close()


# What a test module needs ROS for: rclpy or a message package imported, the bridge run as a
# process (a ROS node), or the ros2 command. Its tests are marked `ros`: `pytest -m "not ros"`
# runs the rest, the rclpy-free core and the local hub, without a ROS install.
_ROS_USE = re.compile(r'^\s*(from|import) (rclpy|launch|[a-z_]+_(msgs|srvs|interfaces)|'
                      r'artbot_bridge\.(ros|main|demo_robot))\b|BridgeProcess|start_bridge|'
                      r"'ros2'", re.MULTILINE)
_ROS_MODULES: Dict[str, bool] = {}


def _needs_ros(path: str) -> bool:
    if path not in _ROS_MODULES:
        with open(path, encoding='utf-8') as source:
            _ROS_MODULES[path] = bool(_ROS_USE.search(source.read()))
    return _ROS_MODULES[path]


def pytest_collection_modifyitems(items: List[Any]) -> None:
    """Mark `ros` every test of a module that needs ROS, and every test using the ROS node."""
    for item in items:
        if 'ros' in getattr(item, 'fixturenames', ()) or _needs_ros(str(item.path)):
            item.add_marker(pytest.mark.ros)
