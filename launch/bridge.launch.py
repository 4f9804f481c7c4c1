"""Launch the artbot_bridge node: `ros2 launch artbot_bridge bridge.launch.py hub_url:=...`."""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchContext, LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _bridge(context: LaunchContext) -> list:
    """Build the node; an empty hub_url or agent_id leaves the params file's value alone."""
    params = [LaunchConfiguration('params_file').perform(context)]
    given = {name: LaunchConfiguration(name).perform(context) for name in ('hub_url', 'agent_id')}
    given = {name: value for name, value in given.items() if value}
    if given:
        params.append(given)
    return [Node(
        package='artbot_bridge', executable='bridge', name='artbot_bridge',
        namespace=LaunchConfiguration('namespace'), parameters=params, output='screen',
        emulate_tty=True,
        arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')])]


def generate_launch_description() -> LaunchDescription:
    """Declare the arguments and the bridge node."""
    default_params = os.path.join(
        get_package_share_directory('artbot_bridge'), 'config', 'bridge.yaml')
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
                              description='logging level: debug, info, warn, error'),
        OpaqueFunction(function=_bridge),
    ])
