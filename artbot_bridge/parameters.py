"""Declare the bridge's parameters (descriptors from the Settings model) and read them once."""

from typing import Any, Dict, List, Optional, Type

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from .settings import build_settings, CommandSettings, NOT_PARAMETERS, Settings, SettingsError
from .settings import SourceSettings

_TYPES = {
    str: Parameter.Type.STRING,
    float: Parameter.Type.DOUBLE,
    int: Parameter.Type.INTEGER,
    bool: Parameter.Type.BOOL,
}


def _descriptor(info: FieldInfo) -> ParameterDescriptor:
    """Build a read-only descriptor with the field's description and range."""
    descriptor = ParameterDescriptor(description=info.description or '', read_only=True)
    low = next((m.ge for m in info.metadata if isinstance(m, annotated_types.Ge)), None)
    high = next((m.le for m in info.metadata if isinstance(m, annotated_types.Le)), None)
    if low is not None and high is not None:
        if info.annotation is float:
            descriptor.floating_point_range = [
                FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
        elif info.annotation is int:
            descriptor.integer_range = [
                IntegerRange(from_value=int(low), to_value=int(high), step=1)]
    return descriptor


def _declare_model(node: Node, model: Type[BaseModel], prefix: str = '',
                   skip: tuple = ()) -> Dict[str, Any]:
    """Declare one parameter per model field; return the values that were given or defaulted."""
    values: Dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        descriptor = _descriptor(info)
        if info.annotation not in _TYPES:  # tuples: string arrays, empty unless given
            initial: Any = Parameter.Type.STRING_ARRAY
        elif info.is_required():  # declared without a default: missing means None
            initial = _TYPES[info.annotation]
        else:
            initial = info.default
        value = node.declare_parameter(prefix + name, initial, descriptor).value
        if value is not None:
            values[name] = list(value) if isinstance(value, (list, tuple)) else value
    return values


def _declare_names(node: Node, table: str, description: str) -> List[str]:
    return list(node.declare_parameter(
        table, Parameter.Type.STRING_ARRAY,
        ParameterDescriptor(description=description, read_only=True)).value or [])


def _declare_rows(node: Node, names: List[str], model: Type[BaseModel]) -> List[Dict[str, Any]]:
    """Declare one parameter block per name of a nav2-style table (`<name>.<field>`)."""
    return [{'name': name, **_declare_model(node, model, prefix=f'{name}.', skip=('name',))}
            for name in names]


def declare_and_read(node: Node, environ: Optional[Dict[str, str]] = None) -> Settings:
    """Declare every parameter and return validated Settings (raises SettingsError)."""
    values = _declare_model(node, Settings, skip=NOT_PARAMETERS)
    source_names = _declare_names(
        node, 'status_sources', 'names of the status sources; each has <name>.topic, ...')
    command_names = _declare_names(
        node, 'commands', 'allowed hub actions; each has <name>.service|topic|action, ...')
    for name in sorted(set(source_names) & set(command_names)):
        raise SettingsError(f"invalid parameter 'commands': {name!r} is also a status source; "
                            'their <name>.* parameters would clash, rename one')
    sources = _declare_rows(node, source_names, SourceSettings)
    commands = _declare_rows(node, command_names, CommandSettings)
    return build_settings(values, sources, environ, commands)
