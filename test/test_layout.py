"""The package's layout holds its architecture: the core never imports ROS."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / 'artbot_bridge'
ROS_ROOTS = ('rclpy', 'rosidl_runtime_py', 'rcl_interfaces', 'action_msgs', 'builtin_interfaces')


def imported(path: Path):
    """Yield (line, absolute module name) for every import in a module of the core."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against artbot_bridge.core
                base = ['artbot_bridge', 'core'][:3 - node.level]
                yield node.lineno, '.'.join(base + ([node.module] if node.module else []))
            else:
                yield node.lineno, node.module or ''


def is_ros(module: str) -> bool:
    root = module.split('.')[0]
    return (root in ROS_ROOTS or root.endswith(('_msgs', '_srvs'))
            or module == 'artbot_bridge.ros' or module.startswith('artbot_bridge.ros.'))


@pytest.mark.parametrize('path', sorted((PACKAGE / 'core').glob('*.py')), ids=lambda p: p.name)
def test_the_core_imports_nothing_of_ros(path):
    found = [f'{path.name}:{line} imports {module}' for line, module in imported(path)
             if is_ros(module)]
    assert not found, found


def test_the_check_sees_a_ros_import(tmp_path):
    probe = tmp_path / 'probe.py'
    probe.write_text('from ..ros.node import BridgeNode\n'
                     'import rclpy\n'
                     'from std_msgs.msg import Bool\n')
    assert [m for _, m in imported(probe) if is_ros(m)] == [
        'artbot_bridge.ros.node', 'rclpy', 'std_msgs.msg']
