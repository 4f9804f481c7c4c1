"""
Convert ROS 2 messages to plain JSON-able values and load interface classes.

Only the generated interface modules are imported (never rclpy).  Field layout
of each message class is introspected once and cached, so the per-message
conversion path is a plain loop over precomputed (name, slot, kind) tuples.
"""

import array
from collections.abc import Mapping
import functools
import importlib
import math
from typing import Any, Callable, Optional

_PLAIN, _MSG, _MSG_SEQ, _OCTET, _OCTET_SEQ = range(5)
_KINDS = ('msg', 'srv', 'action')
_REQUIRED = {'msg': 'get_fields_and_field_types', 'srv': 'Request', 'action': 'Goal'}


class InterfaceTypeError(ValueError):
    """An interface type string or field path that cannot be resolved."""


class FieldError(ValueError):
    """
    A value that does not fit a message field, or an unknown field name.

    ``field`` is the dotted path of the offending field (list items as ``name[2]``),
    or ``''`` when the values themselves are not a dict.
    """

    def __init__(self, message: str, field: str = ''):
        super().__init__(message)
        self.field = field


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

    __slots__ = ('type_name', 'fields', 'by_name', 'cls', 'slot_types', 'setters')

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
        self.cls = cls
        self.slot_types = dict(zip(types, slot_types))
        self.setters = None  # built by _setters() on the first fill_message()


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


# --- filling messages from JSON-like values -------------------------------------------------

_BAD = object()  # returned by element converters for a value that does not fit
_SETTER_ERRORS = (AssertionError, TypeError, ValueError, OverflowError)
_FLOATS = {  # typename: (largest finite magnitude, expected-value text)
    'float': (3.402823466e+38, 'float32 (finite number within +-3.402823466e+38)'),
    'double': (1.7976931348623157e+308, 'float64 (finite number)'),
    'long double': (1.7976931348623157e+308, 'long double (finite number)'),
}
_INT_ALIASES = {
    'short': 'int16', 'long': 'int32', 'long long': 'int64', 'unsigned short': 'uint16',
    'unsigned long': 'uint32', 'unsigned long long': 'uint64',
}
_INT_RANGES = {
    f'{sign}int{bits}': (0, (1 << bits) - 1) if sign else (-(1 << bits - 1), (1 << bits - 1) - 1)
    for sign in ('', 'u') for bits in (8, 16, 32, 64)}
_INT_RANGES.update({alias: _INT_RANGES[name] for alias, name in _INT_ALIASES.items()})

_Convert = Callable[[Any], Any]
_FieldConvert = Callable[[Any, str], Any]


def _got(value) -> str:
    """Describe a rejected value briefly: its type and a shortened repr."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + '...'
    return f'{type(value).__name__} {text}'


def _mismatch(path: str, expected: str, value) -> FieldError:
    """Build the error for a value that does not fit the field at path."""
    return FieldError(f'field {path!r}: expected {expected}, got {_got(value)}', path)


def _unknown(info: _TypeInfo, path: str, name) -> FieldError:
    """Build the error for an unknown field name, listing the valid fields."""
    fields = ', '.join(info.by_name)
    if path == name:
        return FieldError(
            f'unknown field {path!r} for {info.type_name} (fields: {fields})', path)
    return FieldError(
        f'unknown field {path!r}: {info.type_name} has no field {name!r} (fields: {fields})',
        path)


def _join(prefix: str, name: str) -> str:
    """Return the dotted path of name below prefix."""
    return f'{prefix}.{name}' if prefix else name


def _int_converter(typename: str) -> tuple:
    """Return (convert, expected) for an integer type; bool is rejected."""
    low, high = _INT_RANGES[typename]

    def convert(value):
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        return _BAD
    return convert, f'{typename} (int in [{low}, {high}])'


def _float_converter(typename: str) -> tuple:
    """
    Return (convert, expected) for a floating point type; ints are converted.

    NaN and infinity are refused: a command that sets a velocity must not reach a motor
    driver as nan or inf.
    """
    bound, expected = _FLOATS[typename]

    def convert(value):
        if isinstance(value, (float, int)) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                return _BAD
            if math.isfinite(value) and abs(value) <= bound:
                return value
        return _BAD
    return convert, expected


def _convert_bool(value):
    """Accept only True and False."""
    return value if value is True or value is False else _BAD


def _convert_octet(value):
    """Convert an int in [0, 255] to the one-byte bytes the generated code stores."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return bytes((value,))
    return _BAD


def _convert_char(value):
    """Accept a one-character str (code point below 256) or an int in [0, 255]."""
    if isinstance(value, str):
        return value if len(value) == 1 and ord(value) < 256 else _BAD
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return chr(value)
    return _BAD


def _convert_wchar(value):
    """Accept a one-character str."""
    return value if isinstance(value, str) and len(value) == 1 else _BAD


def _convert_str(value):
    """Accept any str."""
    return value if isinstance(value, str) else _BAD


def _string_converter(label: str, bound: Optional[int]) -> tuple:
    """Return (convert, expected) for an unbounded or bounded (w)string."""
    if bound is None:
        return _convert_str, label

    def convert(value):
        return value if isinstance(value, str) and len(value) <= bound else _BAD
    return convert, f'{label} of at most {bound} characters'


def _element_converter(slot_type) -> tuple:
    """Return (convert, expected) for a non-message element type from SLOT_TYPES."""
    typename = getattr(slot_type, 'typename', None)
    if typename is None:
        kind = type(slot_type).__name__
        if kind.endswith('String'):
            label = 'wstring' if 'WString' in kind else 'string'
            return _string_converter(label, getattr(slot_type, 'maximum_size', None))
        raise InterfaceTypeError(f'unsupported field type {slot_type!r}')
    if typename == 'boolean':
        return _convert_bool, 'bool'
    if typename in _INT_RANGES:
        return _int_converter(typename)
    if typename in _FLOATS:
        return _float_converter(typename)
    if typename == 'octet':
        return _convert_octet, 'byte (int in [0, 255])'
    if typename == 'char':
        return _convert_char, 'char (1-character str or int in [0, 255])'
    if typename == 'wchar':
        return _convert_wchar, 'wchar (1-character str)'
    raise InterfaceTypeError(f'unsupported field type {typename!r}')


def _message_class(slot_type, owner: type) -> type:
    """Resolve a NamespacedType to its generated class (action/service parts included)."""
    for module_name in ('.'.join(slot_type.namespaces), owner.__module__):
        try:
            cls = getattr(importlib.import_module(module_name), slot_type.name, None)
        except ImportError:
            cls = None
        if isinstance(cls, type) and hasattr(cls, 'get_fields_and_field_types'):
            return cls
    raise InterfaceTypeError(
        f'cannot resolve message type {"/".join(slot_type.namespaces)}/{slot_type.name} '
        f'used by {_info(owner).type_name}')


def _build(cls: type, value, path: str):
    """Return a new cls instance filled from a dict (an instance of cls is used as is)."""
    if isinstance(value, Mapping):
        msg = cls()
        ops: list = []
        _collect(msg, value, None, path, ops)
        _apply(ops)
        return msg
    if isinstance(value, cls):
        return value
    raise _mismatch(path, f'dict for {_info(cls).type_name}', value)


def _scalar_setter(convert: _Convert, expected: str) -> _FieldConvert:
    """Return the field converter for a single (non-message) value."""
    def convert_field(value, path):
        out = convert(value)
        if out is _BAD:
            raise _mismatch(path, expected, value)
        return out
    return convert_field


def _sequence_setter(item, expected: str, type_str: str, slot_type) -> _FieldConvert:
    """
    Return the field converter for an array or sequence field.

    ``item`` is either an element converter returning _BAD on a mismatch, or a message
    class whose items are built from dicts.
    """
    size = getattr(slot_type, 'size', None)
    bound = None if size is not None else getattr(slot_type, 'maximum_size', None)
    if size is not None:
        length, length_ok = f'exactly {size} items', size.__eq__
    elif bound is not None:
        length, length_ok = f'at most {bound} items', bound.__ge__
    else:
        length = length_ok = None

    def convert_field(value, path):
        if not isinstance(value, (list, tuple)):
            raise _mismatch(path, f'list ({type_str})', value)
        if length_ok is not None and not length_ok(len(value)):
            raise FieldError(
                f'field {path!r}: expected a list of {length} ({type_str}), '
                f'got a list of {len(value)} items', path)
        if isinstance(item, type):
            return [_build(item, v, f'{path}[{i}]') for i, v in enumerate(value)]
        out = [item(v) for v in value]
        if _BAD in out:
            index = next(i for i, v in enumerate(out) if v is _BAD)
            raise _mismatch(f'{path}[{index}]', expected, value[index])
        return out
    return convert_field


def _message_setter(cls: type) -> _FieldConvert:
    """Return the converter for a message field given something other than a dict."""
    def convert_field(value, path):
        if isinstance(value, cls):
            return value
        raise _mismatch(path, f'dict for {_info(cls).type_name}', value)
    return convert_field


def _setters(info: _TypeInfo) -> dict:
    """Return {field: (convert(value, path), nested message class or None)}, built once."""
    setters = info.setters
    if setters is None:
        setters = {}
        for name, slot_type in info.slot_types.items():
            inner = getattr(slot_type, 'value_type', None)
            if inner is None and hasattr(slot_type, 'namespaces'):
                nested = _message_class(slot_type, info.cls)
                setters[name] = (_message_setter(nested), nested)
            elif inner is None:
                setters[name] = (_scalar_setter(*_element_converter(slot_type)), None)
            else:
                if hasattr(inner, 'namespaces'):
                    item, expected = _message_class(inner, info.cls), ''
                else:
                    item, expected = _element_converter(inner)
                type_str = info.by_name[name][2]
                setters[name] = (_sequence_setter(item, expected, type_str, slot_type), None)
        info.setters = setters
    return setters


def _collect(msg, values: Mapping, mapping: Optional[Mapping], prefix: str, ops: list) -> None:
    """Check values against msg's fields and append (target, field, value, path) to ops."""
    root = _info(type(msg))
    for key, value in values.items():
        path = mapping.get(key, key) if mapping else key
        if not isinstance(path, str):
            raise FieldError(
                f'invalid field name {path!r}: expected str', _join(prefix, str(path)))
        target, info, name = msg, root, path
        if '.' in path:
            *parents, name = _segments(path)
            for i, segment in enumerate(parents):
                field = info.by_name.get(segment)
                if field is None:
                    raise _unknown(info, _join(prefix, '.'.join(parents[:i + 1])), segment)
                if field[1] != _MSG:
                    parent = _join(prefix, '.'.join(parents[:i + 1]))
                    raise FieldError(
                        f'field {parent!r} is {field[2]!r}, not a message, in path '
                        f'{_join(prefix, path)!r}', parent)
                target = getattr(target, field[0])
                info = _info(type(target))
        full = _join(prefix, path)
        setter = (info.setters or _setters(info)).get(name)
        if setter is None:
            raise _unknown(info, full, name)
        convert, nested = setter
        if nested is not None and isinstance(value, Mapping):
            _collect(getattr(target, info.by_name[name][0]), value, None, full, ops)
        else:
            ops.append((target, name, convert(value, full), full))


def _apply(ops: list) -> None:
    """Assign checked values through the generated setters."""
    for target, name, value, path in ops:
        try:
            setattr(target, name, value)
        except _SETTER_ERRORS as exc:
            raise FieldError(
                f'field {path!r}: rejected by the message class: {exc}', path) from exc


def fill_message(msg, values: Mapping[str, Any], mapping: Optional[Mapping[str, str]] = None):
    """
    Fill a ROS message instance in place from JSON-like values and return it.

    Each key of ``values`` names a field, or a dotted path such as ``'linear.x'``;
    ``mapping`` optionally renames keys to dotted paths (``{'speed': 'linear.x'}``).
    Nested message fields take a dict, arrays and sequences take a list (of dicts for
    messages).  Every value is type and range checked explicitly (the generated setters'
    asserts vanish under ``python -O``): bool only for bool, int (not bool) within the
    type's range for integers and bytes, int or float for floating point fields, str for
    strings, with exact lengths for arrays and bounds for bounded sequences and strings.

    All values are checked before any field is assigned, so a FieldError leaves ``msg``
    unchanged (barring a rejection by a generated setter itself, which is also reported
    as a FieldError).  Raises InterfaceTypeError if ``msg`` is not a message.
    """
    if not isinstance(values, Mapping):
        raise FieldError(
            f'expected a dict of field values for {_info(type(msg)).type_name}, '
            f'got {_got(values)}', '')
    ops: list = []
    _collect(msg, values, mapping, '', ops)
    _apply(ops)
    return msg
