"""
Read ROS 2 messages as plain JSON-able values: dicts, lists and scalars.

Non-finite floats become None and arrays longer than ``max_array`` become a
'<N items>' string, so the result always serialises with ``allow_nan=False``.
"""

import array
import math
from typing import Any, Dict, Optional, Sequence

from .interfaces import FieldEntry, MSG, MSG_SEQ, OCTET, PLAIN, split_path, type_info
from .interfaces import TypeInfo, walk_path


def _msg_to_dict(msg: Any, max_array: int) -> Dict[str, Any]:
    """Convert one message using its cached field layout."""
    out = {}
    for name, slot, kind in type_info(type(msg)).fields:
        value = getattr(msg, slot)
        out[name] = _plain(value, max_array) if kind == PLAIN else _convert(
            kind, value, max_array)
    return out


def _convert(kind: int, value: Any, max_array: int) -> Any:
    """Convert a field value whose kind is known from the message layout."""
    if kind == PLAIN:
        return _plain(value, max_array)
    if kind == MSG:
        return _msg_to_dict(value, max_array)
    if kind == OCTET:
        return value[0] if isinstance(value, (bytes, bytearray)) else int(value)
    if len(value) > max_array:
        return f'<{len(value)} items>'
    if kind == MSG_SEQ:
        return [_msg_to_dict(item, max_array) for item in value]
    return [item[0] if isinstance(item, bytes) else int(item) for item in value]


def _plain(value: Any, max_array: int) -> Any:
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


def to_plain(msg: Any, max_array: int = 64) -> Any:
    """Convert a message (or any field value) to JSON-able dicts, lists and scalars."""
    return _plain(msg, max_array)


def _missing(segments: Sequence[str], index: int, info: Optional[TypeInfo],
             field: Optional[FieldEntry]) -> KeyError:
    """Build get_path's error for a segment that cannot be followed."""
    path = '.'.join(segments)
    if info is None:
        return KeyError(
            f'field path {path!r}: cannot look up {segments[index]!r} in a non-message')
    return KeyError(f'field path {path!r}: {info.type_name} has no field {segments[index]!r}')


def get_path(msg: Any, path: str, max_array: int = 64) -> Any:
    """Return the plain value at a dotted field path such as 'pose.pose.position.x'."""
    owner, _, (slot, kind, _) = walk_path(msg, split_path(path), _missing)
    return _convert(kind, getattr(owner, slot), max_array)
