"""
Launch the artbot_bridge node: `ros2 launch artbot_bridge bridge.launch.py hub_url:=...`.

The launch ends with the bridge unless respawn is true: non-zero when the bridge failed (a bad
parameter exits 2), so that a supervisor such as systemd sees the failure. A params_file that
does not exist stops the launch before the bridge starts. Stop it with SIGINT (ctrl-c).
"""

import os
import shlex
import shutil
from typing import List, Optional

from ament_index_python.packages import get_package_share_directory
from launch import Action, LaunchContext, LaunchDescription, Substitution
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.conditions import UnlessCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.events.process import ProcessExited
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

# Launch arguments that override the params file only when given (not empty).
OVERRIDES = ('hub_url', 'agent_id')


class GivenParameter(Substitution):
    """
    One of the two command-line words that give parameter `name` the launch argument `name`.

    Given (not empty), the words are `-p` and `name:='value'`, quoted so that the value stays a
    string; they follow `--params-file`, so they win over the file. Not given, both words are
    `--ros-args`, which rcl skips inside the ROS arguments, and the file's value stays. No file
    is written: a parameters file of its own would outlive a `ros2 launch` killed by a signal.
    """

    def __init__(self, name: str, word: int) -> None:
        super().__init__()
        self.name = name
        self.word = word  # 0: the flag, 1: the rule

    def describe(self) -> str:
        """Name the launch argument it reads."""
        return f'GivenParameter({self.name!r}, {self.word})'

    def perform(self, context: LaunchContext) -> str:
        """Return this word for the launch argument's value."""
        value = LaunchConfiguration(self.name).perform(context)
        if not value:
            return '--ros-args'
        if self.word == 0:
            return '-p'
        return "{}:='{}'".format(self.name, value.replace("'", "''"))  # a YAML quoted string


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
    # ExecuteLocal takes respawn_delay as a float only, never a substitution, and reads it
    # when the process exits (launch 1.0 of Humble to 3.7 of Kilted, all under this name).
    # A launch argument is known only now, after the Node was made; a Node made now, in an
    # OpaqueFunction, would be missing from `ros2 launch --print`. So the given one is set here.
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
        # The params file, then the given arguments, in this order: the last value wins.
        ros_arguments=['--params-file', LaunchConfiguration('params_file'),
                       *[GivenParameter(name, word) for name in OVERRIDES for word in (0, 1)],
                       '--log-level', LaunchConfiguration('log_level')],
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
