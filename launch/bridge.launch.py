"""
Launch the artbot_bridge node: `ros2 launch artbot_bridge bridge.launch.py hub_url:=...`.

The launch ends with the bridge unless respawn is true: non-zero when the bridge failed (a bad
parameter exits 2), so that a supervisor such as systemd sees the failure. A params_file that
does not exist stops the launch before the bridge starts. Stop it with SIGINT (ctrl-c).
"""

import atexit
import os
import shlex
import shutil
import tempfile
from typing import Iterable, List, Optional

from ament_index_python.packages import get_package_share_directory
from launch import Action, LaunchContext, LaunchDescription, Substitution
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.conditions import UnlessCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.events.process import ProcessExited
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
import yaml

# Launch arguments that override the params file only when given (not empty).
OVERRIDES = ('hub_url', 'agent_id')


class GivenArguments(Substitution):
    """The path of a parameters file holding those of `names` that were given, not empty."""

    def __init__(self, names: Iterable[str]) -> None:
        super().__init__()
        self.names = tuple(names)

    def describe(self) -> str:
        """Name the launch arguments it reads."""
        return 'GivenArguments({})'.format(', '.join(self.names))

    def perform(self, context: LaunchContext) -> str:
        """Write the given values (always strings) to a parameters file; return its path."""
        given = {name: LaunchConfiguration(name).perform(context) for name in self.names}
        params = {name: value for name, value in given.items() if value}
        with tempfile.NamedTemporaryFile('w', prefix='artbot_bridge_args_', suffix='.yaml',
                                         delete=False) as out:
            yaml.safe_dump({'/**': {'ros__parameters': params}}, out)
        atexit.register(_remove, out.name)  # kept while the launch runs: a respawn reads it
        return out.name


def _remove(path: str) -> None:
    """Remove a file if it is still there."""
    try:
        os.remove(path)
    except OSError:
        pass


def _prefix() -> Optional[list]:
    """Return a prefix that makes the kernel SIGTERM the bridge if `ros2 launch` dies."""
    # SIGTERM (or SIGKILL) to `ros2 launch` kills it at once and leaves its children running
    # (upstream). `ros2 launch --launch-prefix` still applies, after setpriv (its filter not).
    setpriv = shutil.which('setpriv')  # util-linux, on every Debian and Ubuntu
    if setpriv is None:
        return None  # the default: the launch-prefix configuration alone
    return [shlex.quote(setpriv) + ' --pdeathsig TERM ',
            LaunchConfiguration('launch-prefix', default='')]


def _end_launch(event: ProcessExited, context: LaunchContext) -> Optional[List[Action]]:
    """End the launch with the bridge (not respawning): non-zero if the bridge failed."""
    if context.is_shutdown:  # the launch is stopping anyway (ctrl-c)
        return None
    if event.returncode != 0:  # an exception makes `ros2 launch` exit 1; a Shutdown exits 0
        raise RuntimeError(f'artbot_bridge exited with code {event.returncode}')
    return [EmitEvent(event=Shutdown(reason='artbot_bridge exited'))]


def _check_arguments(context: LaunchContext, bridge: Node) -> None:
    """Stop the launch with one line if an argument is wrong, before the bridge starts."""
    params_file = LaunchConfiguration('params_file').perform(context)
    if not os.path.isfile(params_file):
        raise RuntimeError(f'artbot_bridge: params_file {params_file!r} is not a file')
    respawn = LaunchConfiguration('respawn').perform(context)
    if respawn.lower() not in ('true', 'false', '1', '0'):
        raise RuntimeError(f'artbot_bridge: respawn {respawn!r} is not true or false')
    delay = LaunchConfiguration('respawn_delay').perform(context)
    try:
        seconds = float(delay)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise RuntimeError(f'artbot_bridge: respawn_delay {delay!r} is not seconds >= 0')
    # ExecuteProcess takes respawn_delay as a float only, not a substitution (Humble to
    # Kilted; a LaunchConfiguration there fails at the first respawn): set the given one.
    if not hasattr(bridge, '_ExecuteLocal__respawn_delay'):
        raise RuntimeError('artbot_bridge: this launch version keeps respawn_delay elsewhere')
    bridge._ExecuteLocal__respawn_delay = seconds


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments, check them, and start the bridge node."""
    default_params = os.path.join(
        get_package_share_directory('artbot_bridge'), 'config', 'bridge.yaml')
    bridge = Node(
        package='artbot_bridge', executable='bridge', name='artbot_bridge',
        namespace=LaunchConfiguration('namespace'), output='screen',
        parameters=[LaunchConfiguration('params_file'), GivenArguments(OVERRIDES)],
        ros_arguments=['--log-level', LaunchConfiguration('log_level')],
        respawn=LaunchConfiguration('respawn'),
        respawn_delay=2.0,  # replaced by the respawn_delay argument in _check_arguments
        prefix=_prefix(), exec_name='bridge')
    return LaunchDescription([
        DeclareLaunchArgument('hub_url', default_value='',
                              description='hub address, e.g. http://hub.local:8000 '
                                          '(empty: the params file)'),
        DeclareLaunchArgument('agent_id', default_value='',
                              description='agent id (empty: the params file, else hostname)'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace of the bridge node'),
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='parameters file (status sources, intervals, ...)'),
        DeclareLaunchArgument('log_level', default_value='info',
                              description='ROS logging level: debug, info, warn, error'),
        DeclareLaunchArgument('respawn', default_value='false',
                              description='start the bridge again whenever it exits'),
        DeclareLaunchArgument('respawn_delay', default_value='2.0',
                              description='seconds before a respawn'),
        OpaqueFunction(function=_check_arguments, args=[bridge]),
        RegisterEventHandler(OnProcessExit(target_action=bridge, on_exit=_end_launch),
                             condition=UnlessCondition(LaunchConfiguration('respawn'))),
        bridge,
    ])
