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

One behaviour of Humble's rclpy is given to Jazzy's as well, in every process of the venv once
it imports `rclpy.node`: `Node.declare_parameters` declares a parameter whose value is None
with no type (NOT_SET), where Jazzy's raises ValueError without naming it. That is what an
override with no type (`status_sources: []` in a params file) meets in
`automatically_declare_parameters_from_overrides`, so the bridge's `_given()` refuses it there.
"""

import builtins
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple
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
untyped: List[str] = []  # parameters declared with no type, as Humble's rclpy does, in order
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


def _humble_declare_parameters(declare_parameters: Callable[..., Any]) -> Callable[..., Any]:
    """
    Return Jazzy's `Node.declare_parameters` with Humble's answer to a value of None.

    Humble's rclpy 3.3.15 infers a type only from a value that is not None (rclpy/node.py line
    462) and stores the parameter with type NOT_SET (line 735: `allow_not_set_type`); Jazzy's
    infers NOT_SET from None and raises ValueError. A descriptor with `dynamic_typing` makes
    Jazzy's skip the inference, and it stores NOT_SET too; the flag is put back afterwards, so
    that the descriptor is the one Humble keeps (type NOT_SET, not dynamic).
    """
    def humble(self: Any, namespace: str, parameters: Sequence[Tuple[Any, ...]],
               ignore_override: bool = False) -> Any:
        from rcl_interfaces.msg import ParameterDescriptor
        given = [(p[0], None, ParameterDescriptor()) if len(p) == 2 and p[1] is None else p
                 for p in parameters]
        held = [p for p in given if len(p) == 3 and p[1] is None and
                isinstance(p[2], ParameterDescriptor) and not p[2].dynamic_typing]
        for _, _, descriptor in held:
            descriptor.dynamic_typing = True
        try:
            declared = declare_parameters(self, namespace, given, ignore_override)
        finally:
            for _, _, descriptor in held:
                descriptor.dynamic_typing = False
        untyped.extend(f'{namespace}.{name}' if namespace else name for name, _, _ in held)
        return declared
    humble.__doc__ = declare_parameters.__doc__
    return humble


class _HumbleNodeLoader(importlib.abc.Loader):
    """Load rclpy.node as it is, then give its Node Humble's `declare_parameters`."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)

    def create_module(self, spec: Any) -> Optional[ModuleType]:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        module.Node.declare_parameters = _humble_declare_parameters(
            module.Node.declare_parameters)


class _HumbleNodeFinder(importlib.abc.MetaPathFinder):
    """Find rclpy.node where it is, to be loaded by _HumbleNodeLoader; leave the rest."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != 'rclpy.node':
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _HumbleNodeLoader(spec.loader)
        return spec


builtins.__import__ = _humble_import
sys.meta_path.insert(0, _HumbleNodeFinder())
# Jazzy's rclpy.qos_event warns that it is deprecated; Humble's is where these classes live.
warnings.filterwarnings('ignore', message="importing 'qos_event' is deprecated")
