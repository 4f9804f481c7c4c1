"""
Humble's rclpy, as the bridge sees it, on Jazzy's rclpy: the `humble` test lane.

No Humble rclpy can be installed from a package registry, so the lane runs Jazzy's wheels on
Humble's Python (3.10). scripts/setup.sh copies this module into that venv as
`artbot_humble_api`, loaded by a .pth file in every Python process of the venv: the tests, the
bridge they start, `ros2 launch` and the bridge it starts.

An import that the bridge's own code makes (the artbot_bridge package and its launch file) of
an rclpy module that Humble's rclpy does not have fails as it would on Humble, with
ModuleNotFoundError, so the bridge takes its Humble path: the SingleThreadedExecutor without
`rclpy.experimental`, the QoS event callbacks from `rclpy.qos_event` without
`rclpy.event_handler` (docs/humble.md lists each, and the test that proves it). Imports made by
rclpy itself and by the ros2 and launch tools are left alone.
"""

import builtins
from types import ModuleType
from typing import Any, Dict, List, Optional, Tuple
import warnings

# The modules of rclpy 3.3.15 (humble branch of ros2/rclpy, rclpy/rclpy/); any other is missing.
HUMBLE_RCLPY = frozenset((
    '_rclpy_pybind11', 'action', 'callback_groups', 'client', 'clock', 'constants', 'context',
    'duration', 'exceptions', 'executors', 'expand_topic_name', 'guard_condition', 'impl',
    'lifecycle', 'logging', 'node', 'parameter', 'parameter_service', 'publisher', 'qos',
    'qos_event', 'qos_overriding_options', 'serialization', 'service', 'signals',
    'subscription', 'task', 'time', 'time_source', 'timer', 'topic_endpoint_info',
    'topic_or_service_is_hidden', 'type_support', 'utilities', 'validate_full_topic_name',
    'validate_namespace', 'validate_node_name', 'validate_parameter_name',
    'validate_topic_name', 'wait_for_message', 'waitable'))

refused: List[Tuple[str, str]] = []  # (importing module, module refused), in order
_original_import = builtins.__import__


def _from_the_bridge(module_globals: Optional[Dict[str, Any]]) -> bool:
    name = (module_globals or {}).get('__name__') or ''
    path = (module_globals or {}).get('__file__') or ''
    return name.split('.')[0] == 'artbot_bridge' or path.endswith('bridge.launch.py')


def missing_in_humble(module: str) -> bool:
    """Return whether `module` is an rclpy module that Humble's rclpy does not have."""
    parts = module.split('.')
    return parts[0] == 'rclpy' and len(parts) > 1 and parts[1] not in HUMBLE_RCLPY


def _humble_import(name: str, *args: Any, **kwargs: Any) -> Any:
    """Refuse the bridge's imports of rclpy modules that Humble lacks; import the rest."""
    module_globals = args[0] if args else kwargs.get('globals')
    level = args[3] if len(args) > 3 else kwargs.get('level', 0)
    if level or not _from_the_bridge(module_globals):  # relative: within the bridge
        return _original_import(name, *args, **kwargs)
    _refuse_if_missing(module_globals, name)
    imported = _original_import(name, *args, **kwargs)
    for item in (args[2] if len(args) > 2 else kwargs.get('fromlist')) or ():
        if isinstance(getattr(imported, item, None), ModuleType):  # `from rclpy import node`
            _refuse_if_missing(module_globals, f'{imported.__name__}.{item}')
    return imported


def _refuse_if_missing(module_globals: Dict[str, Any], module: str) -> None:
    if missing_in_humble(module):
        refused.append((module_globals.get('__name__', ''), module))
        raise ModuleNotFoundError(f"No module named '{module}' (not in Humble's rclpy)",
                                  name=module)


builtins.__import__ = _humble_import
# Jazzy's rclpy.qos_event warns that it is deprecated; Humble's is where these classes live.
warnings.filterwarnings('ignore', message="importing 'qos_event' is deprecated")
