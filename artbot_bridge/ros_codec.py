"""
Convert ROS 2 messages to plain JSON-able values and load interface classes.

Only the generated interface modules are imported (never rclpy).  Field layout
of each message class is introspected once and cached, so the per-message
conversion path is a plain loop over precomputed (name, slot, kind) tuples.
"""

import array
import functools
import importlib
import math

_PLAIN, _MSG, _MSG_SEQ, _OCTET, _OCTET_SEQ = range(5)
_KINDS = ('msg', 'srv', 'action')
_REQUIRED = {'msg': 'get_fields_and_field_types', 'srv': 'Request', 'action': 'Goal'}


class InterfaceTypeError(ValueError):
    """An interface type string or field path that cannot be resolved."""


@functools.lru_cache(maxsize=None)
def load_interface(type_name: str) -> type:
    """Return the class for 'pkg/msg/Name', 'pkg/Name', 'pkg/srv/Name' or 'pkg/action/Name'."""
    parts = type_name.split('/') if isinstance(type_name, str) else []
    if len(parts) == 2:
        parts.insert(1, 'msg')
    if len(parts) != 3 or parts[1] not in _KINDS or not all(p.isidentifier() for p in parts):
        raise InterfaceTypeError(
            f"invalid interface type {type_name!r}: expected 'pkg/msg/Name', 'pkg/Name', "
            "'pkg/srv/Name' or 'pkg/action/Name'")
    pkg, kind, name = parts
    try:
        module = importlib.import_module(f'{pkg}.{kind}')
    except Exception as exc:
        raise InterfaceTypeError(
            f'unknown interface type {type_name!r}: cannot import {pkg}.{kind} ({exc})') from exc
    cls = getattr(module, name, None)
    if not isinstance(cls, type) or not (
            hasattr(cls, _REQUIRED[kind]) or hasattr(cls, 'get_fields_and_field_types')):
        raise InterfaceTypeError(
            f'unknown interface type {type_name!r}: {pkg}.{kind} has no {name}')
    return cls


def _classify(slot_type) -> int:
    """Return the field kind for a rosidl_parser slot type object."""
    inner = getattr(slot_type, 'value_type', None)
    base = slot_type if inner is None else inner
    if hasattr(base, 'namespaces'):
        return _MSG if inner is None else _MSG_SEQ
    if getattr(base, 'typename', None) == 'octet':
        return _OCTET if inner is None else _OCTET_SEQ
    return _PLAIN


class _TypeInfo:
    """Field layout of one message class, computed once."""

    __slots__ = ('type_name', 'fields', 'by_name')

    def __init__(self, cls: type):
        try:
            types = cls.get_fields_and_field_types()
            slot_types = cls.SLOT_TYPES
        except AttributeError:
            raise InterfaceTypeError(f'{cls!r} is not a ROS message class') from None
        pkg, kind = (cls.__module__.split('.') + ['msg'])[:2]
        self.type_name = f'{pkg}/{kind}/{cls.__name__}'
        slots = set(getattr(cls, '__slots__', ()))
        self.by_name = {}
        for (name, type_str), slot_type in zip(types.items(), slot_types):
            slot = '_' + name if '_' + name in slots else name
            self.by_name[name] = (slot, _classify(slot_type), type_str)
        self.fields = tuple((name, f[0], f[1]) for name, f in self.by_name.items())


_INFO: dict = {}


def _info(cls: type) -> _TypeInfo:
    """Return the cached field layout of a message class."""
    info = _INFO.get(cls)
    if info is None:
        info = _INFO[cls] = _TypeInfo(cls)
    return info


def _msg_to_dict(msg, max_array: int) -> dict:
    """Convert one message using its cached field layout."""
    out = {}
    for name, slot, kind in _info(type(msg)).fields:
        value = getattr(msg, slot)
        out[name] = _plain(value, max_array) if kind == _PLAIN else _convert(
            kind, value, max_array)
    return out


def _convert(kind: int, value, max_array: int):
    """Convert a field value whose kind is known from the message layout."""
    if kind == _PLAIN:
        return _plain(value, max_array)
    if kind == _MSG:
        return _msg_to_dict(value, max_array)
    if kind == _OCTET:
        return value[0] if isinstance(value, (bytes, bytearray)) else int(value)
    if len(value) > max_array:
        return f'<{len(value)} items>'
    if kind == _MSG_SEQ:
        return [_msg_to_dict(item, max_array) for item in value]
    return [item[0] if isinstance(item, bytes) else int(item) for item in value]


def _plain(value, max_array: int):
    """Convert a value of unknown kind (scalar, sequence, numpy object or message)."""
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, (list, tuple, array.array, bytes, bytearray)):
        if len(value) > max_array:
            return f'<{len(value)} items>'
        return [_plain(item, max_array) for item in value]
    if hasattr(value, 'tolist'):  # numpy ndarray or numpy scalar
        if getattr(value, 'ndim', 0) and len(value) > max_array:
            return f'<{len(value)} items>'
        return _plain(value.tolist(), max_array)
    if hasattr(type(value), 'get_fields_and_field_types'):
        return _msg_to_dict(value, max_array)
    return str(value)


def to_plain(msg, max_array: int = 64):
    """Convert a message (or any field value) to JSON-able dicts, lists and scalars."""
    return _plain(msg, max_array)


@functools.lru_cache(maxsize=1024)
def _segments(path: str) -> tuple:
    """Split a dotted field path once."""
    return tuple(path.split('.'))


def get_path(msg, path: str, max_array: int = 64):
    """Return the plain value at a dotted field path such as 'pose.pose.position.x'."""
    value, kind = msg, _MSG
    for segment in _segments(path):
        if kind != _MSG:
            raise KeyError(f'field path {path!r}: cannot look up {segment!r} in a non-message')
        info = _info(type(value))
        field = info.by_name.get(segment)
        if field is None:
            raise KeyError(f'field path {path!r}: {info.type_name} has no field {segment!r}')
        kind = field[1]
        value = getattr(value, field[0])
    return _convert(kind, value, max_array)


def check_path(msg_class: type, path: str) -> None:
    """Validate a dotted field path against a message class, raising InterfaceTypeError."""
    root = _info(msg_class).type_name
    segments = path.split('.') if isinstance(path, str) else ['']
    cls, kind, type_str = msg_class, _MSG, root
    for i, segment in enumerate(segments):
        if kind != _MSG:
            raise InterfaceTypeError(
                f'invalid field path {path!r} for {root}: {".".join(segments[:i])!r} '
                f'is {type_str!r}, not a message')
        info = _info(cls)
        field = info.by_name.get(segment)
        if field is None:
            raise InterfaceTypeError(
                f'invalid field path {path!r} for {root}: {info.type_name} has no field '
                f'{segment!r}')
        slot, kind, type_str = field
        if kind == _MSG:
            cls = type(getattr(cls(), slot))
