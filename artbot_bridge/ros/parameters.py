"""
Declare the bridge's parameters (descriptors from the Settings model) and read them once.

The node is created with `automatically_declare_parameters_from_overrides`, so every name the
params file or the command line gave is visible here through rclpy's public API. Each name is
checked against the Settings model and its tables (a misspelt name stops start-up and names
the closest real one), every value is validated by the model (one-line errors; an integer is
accepted where a double is declared), and only then is each parameter declared read-only with
its description, its range and the value the bridge runs with, so `ros2 param get`, `dump`
and `describe` show exactly that.
"""

import difflib
import socket
from typing import Any, Dict, get_args, List, Optional, Set, Tuple, Type

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from ..core.command_table import CommandSettings
from ..core.settings import build_settings, NOT_PARAMETERS, Settings
from ..core.settings import SettingsError
from ..core.sources import SourceSettings

TABLES = (('status_sources', SourceSettings), ('commands', CommandSettings))
# Parameters that rclpy itself declares on every node, or reads for QoS overrides.
ROS_OWN = ('use_sim_time', 'start_type_description_service')
ROS_OWN_PREFIX = 'qos_overrides.'


def _descriptor(info: FieldInfo, dynamic: bool = False) -> ParameterDescriptor:
    """Build a read-only descriptor with the field's description and range."""
    descriptor = ParameterDescriptor(description=info.description or '', read_only=True,
                                     dynamic_typing=dynamic)
    low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    if low is not None and high is not None:
        if float in _types(info):
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
        elif info.annotation is int:
            descriptor.integer_range = [
                IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    return descriptor


def _fields(model: Type[BaseModel], skip: Tuple[str, ...] = ()) -> Dict[str, FieldInfo]:
    return {name: info for name, info in model.model_fields.items() if name not in skip}


def _unknown(name: str, known: Set[str]) -> SettingsError:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ''
    return SettingsError(f"invalid parameter '{name}': no such parameter{hint}")


def _given(node: Node) -> Dict[str, Any]:
    """Return the values the params file and the command line gave, and forget them."""
    given = {}
    for name, parameter in node.get_parameters_by_prefix('').items():
        if name in ROS_OWN or name.startswith(ROS_OWN_PREFIX):
            continue
        if parameter.type_ == Parameter.Type.NOT_SET:  # Humble declares it with no type
            raise SettingsError(f"invalid parameter '{name}': no value, or an empty list, "
                                'which has no type for ROS; leave it out instead')
        given[name] = parameter.value
        node.undeclare_parameter(name)  # declared again below, typed and read-only
    return given


def _names(given: Dict[str, Any], table: str) -> List[str]:
    names = given.get(table) or []
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise SettingsError(f"invalid parameter '{table}': expected a list of names, "
                            f'got {names!r}')
    return list(names)


def _declare(node: Node, name: str, info: FieldInfo, value: Any) -> None:
    """Declare one parameter read-only with the value the bridge runs with."""
    if isinstance(value, tuple):
        value = list(value)
    if float in _types(info) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    # An empty list has no element type for rclpy to infer: that one is typed by its value.
    dynamic = isinstance(value, list) and not value
    node.declare_parameter(name, value, _descriptor(info, dynamic), ignore_override=True)


def _no_boolean(name: str, info: FieldInfo, value: Any) -> None:
    """Refuse `true` for a number: the model would take it as 1 (`ping_interval:=true`)."""
    numeric = {int, float} & _types(info)
    if isinstance(value, bool) and numeric:
        raise SettingsError(f"invalid parameter '{name}': expected a number, not a boolean "
                            f'(got {str(value).lower()})')


def _types(info: FieldInfo) -> Set[Any]:
    """Return the field's type, and the types inside an Optional."""
    return {info.annotation, *get_args(info.annotation)}


def _row_value(given: Dict[str, Any], key: str, info: FieldInfo, row: BaseModel) -> Any:
    """Return a row parameter's value as given, else the one the row runs with."""
    if key in given:
        return given[key]
    value = getattr(row, key.rpartition('.')[2])
    return info.default if isinstance(value, tuple) else value  # pairs: none given


def untyped_parameter(node: Node, err: ValueError) -> Exception:
    """
    Return the error to raise when rclpy could not declare the given parameters.

    A parameters file that gives a name no value, or an empty list (`status_sources: []`),
    gives it no type, and rclpy then refuses every declaration without naming the parameter.
    """
    untyped = sorted(name for name, parameter in
                     getattr(node, '_parameter_overrides', {}).items()
                     if parameter.type_ == Parameter.Type.NOT_SET)
    if not untyped:
        return err
    return SettingsError(f"invalid parameter '{untyped[0]}': no value, or an empty list, which "
                         'has no type for ROS; leave it out instead')


def declare_and_read(node: Node, environ: Optional[Dict[str, str]] = None) -> Settings:
    """Check every given name, validate every value, declare all; return the Settings."""
    given = _given(node)
    top = _fields(Settings, skip=NOT_PARAMETERS)
    known = set(top) | {table for table, _ in TABLES}
    rows: Dict[str, List[Dict[str, Any]]] = {}
    for table, model in TABLES:
        rows[table] = []
        for row in _names(given, table):
            fields = _fields(model, skip=('name',))
            known |= {f'{row}.{field}' for field in fields}
            rows[table].append({'name': row, **{field: given[f'{row}.{field}']
                                                for field in fields if f'{row}.{field}' in given}})
    for name in sorted(set(given) - known):
        raise _unknown(name, known)
    sources, commands = ({row['name'] for row in rows[table]} for table, _ in TABLES)
    for name in sorted(sources & commands):
        raise SettingsError(f"invalid parameter 'commands': {name!r} is also a status source; "
                            'their <name>.* parameters would clash, rename one')
    values = {name: given[name] for name in top if name in given}
    for name, value in values.items():
        _no_boolean(name, top[name], value)
    for table, model in TABLES:
        fields = _fields(model)
        for row in rows[table]:
            for field, value in row.items():
                _no_boolean(f"{row['name']}.{field}", fields[field], value)
    namespace = node.get_namespace().strip('/')
    if not values.get('agent_id') and namespace:  # two namespaced bridges, two agent ids
        values['agent_id'] = f"{socket.gethostname()}-{namespace.replace('/', '-')}"
    settings = build_settings(values, rows['status_sources'], environ, rows['commands'])
    for name, info in top.items():
        _declare(node, name, info, getattr(settings, name))
    for table, model in TABLES:
        resolved = {row.name: row for row in getattr(settings, table)}
        node.declare_parameter(table, [r['name'] for r in rows[table]], ParameterDescriptor(
            description=f'names of the {table.replace("_", " ")}; each has <name>.* '
                        'parameters', read_only=True, dynamic_typing=not rows[table]),
            ignore_override=True)
        for row in rows[table]:
            for field, info in _fields(model, skip=('name',)).items():
                key = f"{row['name']}.{field}"
                _declare(node, key, info, _row_value(given, key, info, resolved[row['name']]))
    return settings
