"""
Check one JSON-like value against a basic ROS field type and convert it.

`element_converter` returns (convert, expected) for a bool, integer, floating point,
byte, char or (bounded) string field type: ``convert(value)`` returns the value to
assign, or `BAD` when it does not fit, and ``expected`` describes what fits.
"""

import math
from typing import Any, Callable, Optional, Tuple

from .interfaces import InterfaceTypeError

BAD = object()  # returned by element converters for a value that does not fit
# (convert, expected): convert(value) returns the value to assign, or BAD
_Converter = Tuple[Callable[[Any], Any], str]
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


def _int_converter(typename: str) -> _Converter:
    """Return (convert, expected) for an integer type; bool is rejected."""
    low, high = _INT_RANGES[typename]

    def convert(value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        return BAD
    return convert, f'{typename} (int in [{low}, {high}])'


def _float_converter(typename: str) -> _Converter:
    """
    Return (convert, expected) for a floating point type; ints are converted.

    NaN and infinity are refused: a command that sets a velocity must not reach a motor
    driver as nan or inf.
    """
    bound, expected = _FLOATS[typename]

    def convert(value: Any) -> Any:
        if isinstance(value, (float, int)) and not isinstance(value, bool):
            try:
                value = float(value)
            except OverflowError:
                return BAD
            if math.isfinite(value) and abs(value) <= bound:
                return value
        return BAD
    return convert, expected


def _convert_bool(value: Any) -> Any:
    """Accept only True and False."""
    return value if value is True or value is False else BAD


def _convert_octet(value: Any) -> Any:
    """Convert an int in [0, 255] to the one-byte bytes the generated code stores."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return bytes((value,))
    return BAD


def _convert_char(value: Any) -> Any:
    """Accept a one-character str (code point below 256) or an int in [0, 255]."""
    if isinstance(value, str):
        return value if len(value) == 1 and ord(value) < 256 else BAD
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 255:
        return chr(value)
    return BAD


def _convert_wchar(value: Any) -> Any:
    """Accept a one-character str."""
    return value if isinstance(value, str) and len(value) == 1 else BAD


def _convert_str(value: Any) -> Any:
    """Accept any str."""
    return value if isinstance(value, str) else BAD


def _string_converter(label: str, bound: Optional[int]) -> _Converter:
    """Return (convert, expected) for an unbounded or bounded (w)string."""
    if bound is None:
        return _convert_str, label

    def convert(value: Any) -> Any:
        return value if isinstance(value, str) and len(value) <= bound else BAD
    return convert, f'{label} of at most {bound} characters'


def element_converter(slot_type: Any) -> _Converter:
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
