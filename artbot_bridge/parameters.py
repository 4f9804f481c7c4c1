"""Declare the bridge's parameters (descriptors from the Settings model) and read them once."""

from typing import Any, Dict, List, Optional, Type

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node
from rclpy.parameter import Parameter

from .settings import build_settings, Settings, SourceSettings

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


def declare_and_read(node: Node, environ: Optional[Dict[str, str]] = None) -> Settings:
    """Declare every parameter and return validated Settings (raises SettingsError)."""
    values = _declare_model(node, Settings, skip=('status_sources',))
    names = node.declare_parameter(
        'status_sources', Parameter.Type.STRING_ARRAY,
        ParameterDescriptor(description='names of the status sources; each has '
                            '<name>.topic, <name>.type, ...', read_only=True)).value or []
    sources: List[Dict[str, Any]] = []
    for name in names:
        source = _declare_model(node, SourceSettings, prefix=f'{name}.', skip=('name',))
        sources.append({'name': name, **source})
    return build_settings(values, sources, environ)
