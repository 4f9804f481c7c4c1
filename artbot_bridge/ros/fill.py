"""
Fill ROS 2 messages from JSON-like values, type and range checking every value.

Field layouts come from `interfaces.type_info` and dotted keys such as 'linear.x' are
followed with `interfaces.walk_path`; the per-field converters (`field_types` for basic
types) are built once per message class and kept in its layout.
"""

from collections.abc import Mapping
import functools
import importlib
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

from .field_types import BAD, element_converter
from .interfaces import FieldEntry, InterfaceTypeError, Setters, split_path, type_info
from .interfaces import TypeInfo, walk_path

_SETTER_ERRORS = (AssertionError, TypeError, ValueError, OverflowError)

_FieldConvert = Callable[[Any, str], Any]
# (target message, field name, checked value, dotted path) for each assignment
_Ops = List[Tuple[Any, str, Any, str]]


class FieldError(ValueError):
    """
    A value that does not fit a message field, or an unknown field name.

    ``field`` is the dotted path of the offending field (list items as ``name[2]``),
    or ``''`` when the values themselves are not a dict.
    """

    def __init__(self, message: str, field: str = '') -> None:
        super().__init__(message)
        self.field = field


def _got(value: Any) -> str:
    """Describe a rejected value briefly: its type and a shortened repr."""
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + '...'
    return f'{type(value).__name__} {text}'


def _mismatch(path: str, expected: str, value: Any) -> FieldError:
    """Build the error for a value that does not fit the field at path."""
    return FieldError(f'field {path!r}: expected {expected}, got {_got(value)}', path)


def _unknown(info: TypeInfo, path: str, name: str) -> FieldError:
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


def _message_class(slot_type: Any, owner: type) -> type:
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
        f'used by {type_info(owner).type_name}')


def _build(cls: type, value: Any, path: str) -> Any:
    """Return a new cls instance filled from a dict (an instance of cls is used as is)."""
    if isinstance(value, Mapping):
        msg = cls()
        ops: _Ops = []
        _collect(msg, value, None, path, ops)
        _apply(ops)
        return msg
    if isinstance(value, cls):
        return value
    raise _mismatch(path, f'dict for {type_info(cls).type_name}', value)


def _scalar_setter(convert: Callable[[Any], Any], expected: str) -> _FieldConvert:
    """Return the field converter for a single (non-message) value."""
    def convert_field(value: Any, path: str) -> Any:
        out = convert(value)
        if out is BAD:
            raise _mismatch(path, expected, value)
        return out
    return convert_field


def _sequence_setter(item: Union[type, Callable[[Any], Any]], expected: str, type_str: str,
                     slot_type: Any) -> _FieldConvert:
    """
    Return the field converter for an array or sequence field.

    ``item`` is either an element converter returning BAD on a mismatch, or a message
    class whose items are built from dicts.
    """
    length: Optional[str]
    length_ok: Optional[Callable[[int], bool]]
    size = getattr(slot_type, 'size', None)
    bound = None if size is not None else getattr(slot_type, 'maximum_size', None)
    if size is not None:
        length, length_ok = f'exactly {size} items', size.__eq__
    elif bound is not None:
        length, length_ok = f'at most {bound} items', bound.__ge__
    else:
        length = length_ok = None

    def convert_field(value: Any, path: str) -> Any:
        if not isinstance(value, (list, tuple)):
            raise _mismatch(path, f'list ({type_str})', value)
        if length_ok is not None and not length_ok(len(value)):
            raise FieldError(
                f'field {path!r}: expected a list of {length} ({type_str}), '
                f'got a list of {len(value)} items', path)
        if isinstance(item, type):
            return [_build(item, v, f'{path}[{i}]') for i, v in enumerate(value)]
        out = [item(v) for v in value]
        if BAD in out:
            index = next(i for i, v in enumerate(out) if v is BAD)
            raise _mismatch(f'{path}[{index}]', expected, value[index])
        return out
    return convert_field


def _message_setter(cls: type) -> _FieldConvert:
    """Return the converter for a message field given something other than a dict."""
    def convert_field(value: Any, path: str) -> Any:
        if isinstance(value, cls):
            return value
        raise _mismatch(path, f'dict for {type_info(cls).type_name}', value)
    return convert_field


def _setters(info: TypeInfo) -> Setters:
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
                setters[name] = (_scalar_setter(*element_converter(slot_type)), None)
            else:
                item: Union[type, Callable[[Any], Any]]
                if hasattr(inner, 'namespaces'):
                    item, expected = _message_class(inner, info.cls), ''
                else:
                    item, expected = element_converter(inner)
                type_str = info.by_name[name][2]
                setters[name] = (_sequence_setter(item, expected, type_str, slot_type), None)
        info.setters = setters
    return setters


def _path_error(prefix: str, segments: Sequence[str], index: int, info: Optional[TypeInfo],
                field: Optional[FieldEntry]) -> FieldError:
    """Build the error for a key whose dotted path cannot be followed (see walk_path)."""
    if info is None:
        parent = _join(prefix, '.'.join(segments[:index]))
        return FieldError(
            f'field {parent!r} is {field[2]!r}, not a message, in path '
            f'{_join(prefix, ".".join(segments))!r}', parent)
    if index == len(segments) - 1:
        _setters(info)  # a class the filler cannot handle is reported before a wrong name
    return _unknown(info, _join(prefix, '.'.join(segments[:index + 1])), segments[index])


def _collect(msg: Any, values: Mapping[str, Any], mapping: Optional[Mapping[str, str]],
             prefix: str, ops: _Ops) -> None:
    """Check values against msg's fields and append (target, field, value, path) to ops."""
    type_info(type(msg))  # InterfaceTypeError for a non-message, even with no values
    fail = functools.partial(_path_error, prefix)
    for key, value in values.items():
        path = mapping.get(key, key) if mapping else key
        if not isinstance(path, str):
            raise FieldError(
                f'invalid field name {path!r}: expected str', _join(prefix, str(path)))
        segments = split_path(path)
        target, info, (slot, _, _) = walk_path(msg, segments, fail)
        name, full = segments[-1], _join(prefix, path)
        convert, nested = (info.setters or _setters(info))[name]
        if nested is not None and isinstance(value, Mapping):
            _collect(getattr(target, slot), value, None, full, ops)
        else:
            ops.append((target, name, convert(value, full), full))


def _apply(ops: _Ops) -> None:
    """Assign checked values through the generated setters."""
    for target, name, value, path in ops:
        try:
            setattr(target, name, value)
        except _SETTER_ERRORS as exc:
            raise FieldError(
                f'field {path!r}: rejected by the message class: {exc}', path) from exc


def fill_message(msg: Any, values: Mapping[str, Any],
                 mapping: Optional[Mapping[str, str]] = None) -> Any:
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
            f'expected a dict of field values for {type_info(type(msg)).type_name}, '
            f'got {_got(values)}', '')
    ops: _Ops = []
    _collect(msg, values, mapping, '', ops)
    _apply(ops)
    return msg
