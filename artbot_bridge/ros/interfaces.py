"""
Interface type strings, message field layouts and dotted field paths.

Only the generated interface modules are imported (never rclpy).  The field layout of
each message class is introspected once and cached (`type_info`), so reading and filling
messages are plain loops over precomputed (name, slot, kind) entries.  `walk_path` is the
one walker of dotted field paths such as 'pose.pose.position.x': `check_path`,
`read.get_path` and `fill.fill_message` follow paths with it and only word the errors.
"""

import functools
import importlib
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Type

from ..core.settings import SettingsError

# Field kinds in a layout: a plain value, a message, a sequence of messages, a byte,
# a sequence of bytes.
PLAIN, MSG, MSG_SEQ, OCTET, OCTET_SEQ = range(5)
_KINDS = ('msg', 'srv', 'action')
_REQUIRED = {'msg': 'get_fields_and_field_types', 'srv': 'Request', 'action': 'Goal'}
# A field's layout entry: (slot attribute, field kind, type string).
FieldEntry = Tuple[str, int, str]
# The filler's per-field converters: {field: (convert(value, path), nested class or None)}.
Setters = Dict[str, Tuple[Callable[[Any, str], Any], Optional[type]]]


class InterfaceTypeError(ValueError):
    """An interface type string or field path that cannot be resolved."""


def _type_parts(type_name: str) -> List[str]:
    """Split a type string, spelling 'pkg/Name' as 'pkg/msg/Name'."""
    parts = type_name.split('/')
    if len(parts) == 2:
        parts.insert(1, 'msg')
    return parts


def normalize_type(type_name: str) -> str:
    """Spell `pkg/Name` as `pkg/msg/Name`."""
    return '/'.join(_type_parts(type_name.strip()))


@functools.lru_cache(maxsize=None)
def load_interface(type_name: str) -> type:
    """Return the class for 'pkg/msg/Name', 'pkg/Name', 'pkg/srv/Name' or 'pkg/action/Name'."""
    parts = _type_parts(type_name) if isinstance(type_name, str) else []
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


def _classify(slot_type: Any) -> int:
    """Return the field kind for a rosidl_parser slot type object."""
    inner = getattr(slot_type, 'value_type', None)
    base = slot_type if inner is None else inner
    if hasattr(base, 'namespaces'):
        return MSG if inner is None else MSG_SEQ
    if getattr(base, 'typename', None) == 'octet':
        return OCTET if inner is None else OCTET_SEQ
    return PLAIN


class TypeInfo:
    """
    Field layout of one message class, computed once.

    ``by_name`` maps each field to (slot, kind, type string); ``fields`` lists
    (name, slot, kind); ``setters`` is filled by the filler on its first use.
    """

    __slots__ = ('type_name', 'fields', 'by_name', 'cls', 'slot_types', 'setters')

    def __init__(self, cls: Type[Any]) -> None:
        try:
            types = cls.get_fields_and_field_types()
            slot_types = cls.SLOT_TYPES
        except AttributeError:
            raise InterfaceTypeError(f'{cls!r} is not a ROS message class') from None
        pkg, kind = (cls.__module__.split('.') + ['msg'])[:2]
        self.type_name: str = f'{pkg}/{kind}/{cls.__name__}'
        slots = set(getattr(cls, '__slots__', ()))
        self.by_name: Dict[str, FieldEntry] = {}
        for (name, type_str), slot_type in zip(types.items(), slot_types):
            slot = '_' + name if '_' + name in slots else name
            self.by_name[name] = (slot, _classify(slot_type), type_str)
        self.fields: Tuple[Tuple[str, str, int], ...] = tuple(
            (name, f[0], f[1]) for name, f in self.by_name.items())
        self.cls: Type[Any] = cls
        self.slot_types: Dict[str, Any] = dict(zip(types, slot_types))
        # built by fill._setters() on the first fill_message()
        self.setters: Optional[Setters] = None


_INFO: Dict[type, TypeInfo] = {}


def type_info(cls: type) -> TypeInfo:
    """Return the cached field layout of a message class."""
    info = _INFO.get(cls)
    if info is None:
        info = _INFO[cls] = TypeInfo(cls)
    return info


@functools.lru_cache(maxsize=1024)
def split_path(path: str) -> Tuple[str, ...]:
    """Split a dotted field path once."""
    return tuple(path.split('.'))


# fail(segments, index, info, field) returns the exception to raise for segments[index].
PathFail = Callable[[Sequence[str], int, Optional[TypeInfo], Optional[FieldEntry]], Exception]


def walk_path(msg: Any, segments: Sequence[str],
              fail: PathFail) -> Tuple[Any, Optional[TypeInfo], Optional[FieldEntry]]:
    """
    Follow field names from message ``msg`` down through nested message fields.

    Return (owner, info, field) for the last segment: the message that holds it, that
    message's layout and the field's (slot, kind, type string) entry.  A segment that
    cannot be followed raises ``fail(segments, index, info, field)``: ``info`` is the
    layout that has no field ``segments[index]``, or None when ``field``, the entry of
    ``segments[index - 1]``, is not a message.
    """
    owner, info, field = msg, None, None
    for index, segment in enumerate(segments):
        if field is not None:
            if field[1] != MSG:
                raise fail(segments, index, None, field)
            owner = getattr(owner, field[0])
        info = type_info(type(owner))
        field = info.by_name.get(segment)
        if field is None:
            raise fail(segments, index, info, None)
    return owner, info, field


def check_path(msg_class: type, path: str) -> None:
    """Validate a dotted field path against a message class, raising InterfaceTypeError."""
    root = type_info(msg_class).type_name
    segments = split_path(path) if isinstance(path, str) else ('',)

    def fail(segments: Sequence[str], index: int, info: Optional[TypeInfo],
             field: Optional[FieldEntry]) -> InterfaceTypeError:
        if info is None:
            return InterfaceTypeError(
                f'invalid field path {path!r} for {root}: {".".join(segments[:index])!r} '
                f'is {field[2]!r}, not a message')
        return InterfaceTypeError(
            f'invalid field path {path!r} for {root}: {info.type_name} has no field '
            f'{segments[index]!r}')
    walk_path(msg_class(), segments, fail)


def row_interface(row: str, type_name: str) -> Any:
    """Load the interface a table row names in `<row>.type`; a SettingsError names it."""
    try:
        return load_interface(type_name)
    except InterfaceTypeError as err:
        raise SettingsError(f"invalid parameter '{row}.type': {err}") from None


def check_row_paths(row: str, msg_class: type, paths: Iterable[Tuple[str, str]]) -> None:
    """Check a row's field paths, (parameter, path) pairs; a SettingsError names the first bad."""
    for parameter, path in paths:
        try:
            check_path(msg_class, path)
        except InterfaceTypeError as err:
            raise SettingsError(f"invalid parameter '{row}.{parameter}': {err}") from None
