"""Entry point: `ros2 run artbot_bridge bridge` (or `python -m artbot_bridge`)."""

import signal
import sys
import time
from typing import List, Optional

import rclpy
from rclpy.exceptions import ParameterException
from rclpy.signals import SignalHandlerOptions

from .core.settings import SettingsError
from .ros.node import BridgeNode
from .ros.spin import make_executor, Spinner


# The hub link's thread and the ROS executor's thread hand each command to each other. With
# Python's default 5 ms switch interval, the thread that was just handed work can wait for the
# GIL while the other runs on; 0.1 ms keeps the hand-off well under a millisecond.
SWITCH_INTERVAL = 0.0001
POLL = 0.1  # seconds between two looks for a signal or a dead executor thread


def main(args: Optional[List[str]] = None) -> int:
    """Run the bridge until SIGINT or SIGTERM; return the process exit code."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    # Our own handlers: the same clean shutdown for SIGINT and SIGTERM on every distro.
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    except Exception as err:  # noqa: B902 - rcl's errors (bad --ros-args) have no public type
        print(f'artbot_bridge: cannot initialise ROS: {err}', file=sys.stderr)
        return 2
    # A handler must take no lock: a second signal can arrive while the first handler runs
    # (two Ctrl-C, a supervisor and a dying parent), and Event.set() would deadlock on its own
    # lock. Appending to a list takes none; the main thread looks every POLL seconds.
    stop: List[int] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda signum, _: stop.append(signum))
    try:
        node = BridgeNode()
    except SettingsError as err:
        print(f'artbot_bridge: {err}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    except ParameterException as err:  # rclpy's own checks: type and range of a parameter
        print(f'artbot_bridge: invalid parameter: {err}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    spinner = Spinner(make_executor(node.settings.executor), node.get_logger().error)
    spinner.executor.add_node(node)
    code = 0
    try:
        node.start(spinner.kind)
        spinner.start()
        while spinner.alive() and not stop:
            time.sleep(POLL)
        if not stop:
            print('artbot_bridge: the ROS executor stopped unexpectedly', file=sys.stderr)
            code = 1
    finally:
        # Fixed order: the link, then the spin (joined, so that no callback runs on a node
        # being destroyed), then the node and rclpy.
        node.get_logger().info('shutting down')
        node.shutdown()
        spinner.stop()
        spinner.executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    sys.exit(main())
