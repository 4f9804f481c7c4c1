"""Unit tests for artbot_bridge.ros.fill using real generated ROS 2 messages (no rclpy)."""

import array
import json
import math
import os
import subprocess
import sys

from artbot_bridge.ros.fill import FieldError, fill_message
from artbot_bridge.ros.interfaces import InterfaceTypeError
from artbot_bridge.ros.read import to_plain
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import PoseArray, Twist
import numpy
import pytest
from std_srvs.srv import SetBool
from test_msgs.action import Fibonacci
from test_msgs.msg import (
    Arrays, BasicTypes, BoundedSequences, Strings, UnboundedSequences, WStrings)


def reject(msg, values, field, *fragments, mapping=None) -> FieldError:
    """Assert that filling fails on field, with every fragment in the message."""
    with pytest.raises(FieldError) as info:
        fill_message(msg, values, mapping)
    assert info.value.field == field
    text = str(info.value)
    assert not field or repr(field) in text
    for fragment in fragments:
        assert fragment in text
    return info.value


def test_field_error_is_value_error():
    """Keep FieldError catchable as ValueError, with the field as an attribute."""
    error = FieldError('boom', 'a.b')
    assert isinstance(error, ValueError)
    assert error.field == 'a.b'
    assert str(error) == 'boom'
    assert FieldError('no field').field == ''


def test_set_bool_request():
    """Fill a bool field and return the same instance."""
    request = SetBool.Request()
    assert fill_message(request, json.loads('{"data": true}')) is request
    assert request.data is True
    fill_message(request, {'data': False})
    assert request.data is False


@pytest.mark.parametrize('value', ['yes', 1, 0, None, 1.0, [True]])
def test_set_bool_rejects_non_bool(value):
    """Accept only real bools for bool fields."""
    error = reject(SetBool.Request(), {'data': value}, 'data', 'expected bool')
    assert type(value).__name__ in str(error)


def test_set_bool_message_format():
    """Name the field, the expected type and the given value."""
    reject(SetBool.Request(), {'data': 'yes'}, 'data')
    with pytest.raises(FieldError) as info:
        fill_message(SetBool.Request(), {'data': 'yes'})
    assert str(info.value) == "field 'data': expected bool, got str 'yes'"


def test_twist_nested_dict_converts_int_to_float():
    """Fill nested messages from dicts; ints become floats; other fields keep defaults."""
    twist = fill_message(Twist(), {'linear': {'x': 1}, 'angular': {'z': -0.5}})
    assert twist.linear.x == 1.0 and isinstance(twist.linear.x, float)
    assert twist.angular.z == -0.5
    assert to_plain(twist) == {
        'linear': {'x': 1.0, 'y': 0.0, 'z': 0.0}, 'angular': {'x': 0.0, 'y': 0.0, 'z': -0.5}}


def test_twist_mapping_and_dotted_keys():
    """Rename keys through the mapping; unmapped keys may be dotted paths themselves."""
    twist = fill_message(
        Twist(), {'speed': 2, 'angular.z': 0.25, 'turn': 3.5},
        {'speed': 'linear.x', 'turn': 'angular.y'})
    assert (twist.linear.x, twist.angular.y, twist.angular.z) == (2.0, 3.5, 0.25)


def test_twist_mapping_error_names_target_path():
    """Report the mapped dotted path, not the key."""
    reject(Twist(), {'speed': 'fast'}, 'linear.x', 'expected float64', "str 'fast'",
           mapping={'speed': 'linear.x'})


@pytest.mark.parametrize('value', [5, 'x', [1, 2, 3], None, True])
def test_twist_rejects_non_dict_for_message(value):
    """Require a dict for a nested message field."""
    reject(Twist(), {'linear': value}, 'linear', 'expected dict for geometry_msgs/msg/Vector3')


def test_twist_nested_errors_carry_full_path():
    """Name nested fields by their full dotted path."""
    reject(Twist(), {'linear': {'x': 'a'}}, 'linear.x', 'expected float64')
    reject(Twist(), {'linear': {'w': 1}}, 'linear.w', "has no field 'w'", '(fields: x, y, z)')
    reject(Twist(), {'linear.w': 1}, 'linear.w', 'geometry_msgs/msg/Vector3', 'x, y, z')
    reject(Twist(), {'nope.x': 1}, 'nope', 'geometry_msgs/msg/Twist', 'linear, angular')
    reject(Twist(), {'linear.x.y': 1}, 'linear.x', 'not a message')


def test_unknown_field_lists_valid_fields():
    """Reject unknown field names, listing the valid ones."""
    with pytest.raises(FieldError) as info:
        fill_message(SetBool.Request(), {'speed': 1})
    assert info.value.field == 'speed'
    assert str(info.value) == (
        "unknown field 'speed' for std_srvs/srv/SetBool_Request (fields: data)")


@pytest.mark.parametrize('values', [None, [('data', True)], 'data', 1, True])
def test_non_dict_values_rejected(values):
    """Reject values that are not a dict, with field ''."""
    error = reject(SetBool.Request(), values, '', 'std_srvs/srv/SetBool_Request')
    assert 'expected a dict' in str(error)


def test_non_str_key_rejected():
    """Reject keys that are not strings."""
    with pytest.raises(FieldError) as info:
        fill_message(SetBool.Request(), {1: True})
    assert info.value.field == '1'
    assert 'invalid field name 1' in str(info.value)


def test_not_a_message():
    """Refuse to fill something that is not a message."""
    with pytest.raises(InterfaceTypeError):
        fill_message({}, {'data': True})


@pytest.mark.parametrize('field, value, fragment', [
    ('uint8_value', 300, 'uint8 (int in [0, 255])'),
    ('uint8_value', -1, 'uint8'),
    ('int8_value', -129, 'int8 (int in [-128, 127])'),
    ('int8_value', 128, 'int8'),
    ('int16_value', 2 ** 15, 'int16'),
    ('uint16_value', 2 ** 16, 'uint16'),
    ('int32_value', True, 'bool True'),
    ('int32_value', 1.0, 'float 1.0'),
    ('int32_value', '1', "str '1'"),
    ('uint32_value', 2 ** 32, 'uint32'),
    ('int64_value', -2 ** 63 - 1, 'int64'),
    ('uint64_value', 2 ** 64, 'uint64'),
    ('char_value', 256, 'uint8'),
    ('byte_value', 256, 'byte (int in [0, 255])'),
    ('byte_value', b'ab', 'byte'),
    ('float32_value', 1e39, 'float32'),
    ('float32_value', True, 'bool True'),
    ('float64_value', '1.5', 'float64'),
    ('float64_value', 10 ** 400, 'float64'),
    ('float64_value', math.nan, 'float64 (finite number)'),
    ('float64_value', math.inf, 'float64 (finite number)'),
    ('float32_value', -math.inf, 'float32'),
    ('bool_value', 1, 'expected bool'),
])
def test_basic_types_rejected(field, value, fragment):
    """Check types and integer/float ranges explicitly."""
    reject(BasicTypes(), {field: value}, field, fragment)


def test_nan_in_a_sequence_or_a_nested_twist_never_reaches_a_motor():
    reject(UnboundedSequences(), {'float64_values': [1.0, math.nan]}, 'float64_values[1]',
           'finite number')
    reject(Twist(), {'angular': {'z': -math.inf}}, 'angular.z', 'finite number')


def test_basic_types_accepted():
    """Accept every basic type at its limits; bytes are given as ints."""
    msg = fill_message(BasicTypes(), {
        'bool_value': True, 'byte_value': 255, 'char_value': 200, 'float32_value': 3,
        'float64_value': -1e308, 'int8_value': -128, 'uint8_value': 255,
        'int16_value': -32768, 'uint16_value': 65535, 'int32_value': -2 ** 31,
        'uint32_value': 2 ** 32 - 1, 'int64_value': -2 ** 63, 'uint64_value': 2 ** 64 - 1})
    assert msg.byte_value == b'\xff'
    assert msg.float32_value == 3.0 and isinstance(msg.float32_value, float)
    assert msg.float64_value == -1e308
    assert (msg.int8_value, msg.uint64_value) == (-128, 2 ** 64 - 1)
    fill_message(msg, {'float32_value': -3.4e38})
    assert msg.float32_value == pytest.approx(-3.4e38)


def test_strings():
    """Accept str for string fields and check bounded string lengths."""
    msg = fill_message(Strings(), {'string_value': 'héllo', 'bounded_string_value': 'x' * 22})
    assert (msg.string_value, msg.bounded_string_value) == ('héllo', 'x' * 22)
    reject(Strings(), {'string_value': 5}, 'string_value', 'expected string', 'int 5')
    reject(Strings(), {'string_value': None}, 'string_value', 'NoneType')
    reject(Strings(), {'bounded_string_value': 'x' * 23}, 'bounded_string_value',
           'string of at most 22 characters')


def test_wstrings():
    """Accept str for wstring fields."""
    msg = fill_message(WStrings(), {'wstring_value': 'ünï'})
    assert msg.wstring_value == 'ünï'
    reject(WStrings(), {'wstring_value': b'x'}, 'wstring_value', 'wstring')


def test_fixed_size_arrays():
    """Fill fixed-size arrays of exactly the right length."""
    msg = fill_message(Arrays(), {
        'bool_values': [True, False, True], 'byte_values': [0, 1, 255], 'int32_values': [1, 2, 3],
        'float64_values': [1, 2.5, -3], 'string_values': ['a', 'b', 'c'],
        'basic_types_values': [{'int8_value': -1}, {}, {'bool_value': True}]})
    assert isinstance(msg.int32_values, numpy.ndarray)
    assert msg.int32_values.tolist() == [1, 2, 3]
    assert msg.float64_values.tolist() == [1.0, 2.5, -3.0]
    assert msg.byte_values == [b'\x00', b'\x01', b'\xff']
    assert list(msg.string_values) == ['a', 'b', 'c']
    assert msg.basic_types_values[0].int8_value == -1
    assert msg.basic_types_values[2].bool_value is True


@pytest.mark.parametrize('field, value', [
    ('int32_values', [1, 2]),
    ('int32_values', [1, 2, 3, 4]),
    ('bool_values', []),
    ('string_values', ['a']),
    ('basic_types_values', [{}, {}]),
])
def test_fixed_size_arrays_wrong_length(field, value):
    """Require the exact length for fixed-size arrays."""
    reject(Arrays(), {field: value}, field, 'exactly 3 items', f'got a list of {len(value)}')


def test_array_items_checked():
    """Check every item, naming it as field[index]."""
    reject(Arrays(), {'uint8_values': [1, 2, 256]}, 'uint8_values[2]', 'uint8', 'int 256')
    reject(Arrays(), {'bool_values': [True, 0, False]}, 'bool_values[1]', 'expected bool')
    reject(Arrays(), {'string_values': ['a', 'b', 3]}, 'string_values[2]', 'string')
    reject(Arrays(), {'int32_values': 'abc'}, 'int32_values', 'expected list', 'int32[3]')
    reject(Arrays(), {'basic_types_values': [{}, {'uint8_value': -1}, {}]},
           'basic_types_values[1].uint8_value', 'uint8')


def test_bounded_sequences():
    """Accept up to the bound, reject beyond it."""
    msg = fill_message(BoundedSequences(), {
        'int32_values': [1, 2, 3], 'string_values': [], 'basic_types_values': [{}] * 3})
    assert list(msg.int32_values) == [1, 2, 3]
    assert len(msg.basic_types_values) == 3
    reject(BoundedSequences(), {'int32_values': [1, 2, 3, 4]}, 'int32_values',
           'at most 3 items', 'sequence<int32, 3>', 'got a list of 4 items')
    reject(BoundedSequences(), {'basic_types_values': [{}] * 4}, 'basic_types_values',
           'at most 3 items')
    reject(BoundedSequences(), {'string_values': ['a', 'b', 'c', 'd']}, 'string_values')


def test_unbounded_sequences():
    """Fill unbounded sequences of numbers, bools, bytes and strings."""
    msg = fill_message(UnboundedSequences(), {
        'float32_values': [1, 2.5, -0.0], 'int64_values': list(range(100)),
        'bool_values': [True, False], 'byte_values': [7], 'string_values': ['x', ''],
        'uint8_values': []})
    assert isinstance(msg.float32_values, array.array)
    assert msg.float32_values.tolist() == [1.0, 2.5, -0.0]
    assert list(msg.int64_values) == list(range(100))
    assert msg.bool_values == [True, False]
    assert msg.byte_values == [b'\x07']
    assert msg.string_values == ['x', '']
    assert len(msg.uint8_values) == 0
    reject(UnboundedSequences(), {'int8_values': [0, 200]}, 'int8_values[1]', 'int8')
    reject(UnboundedSequences(), {'float64_values': [1, None]}, 'float64_values[1]')
    reject(UnboundedSequences(), {'int16_values': {'a': 1}}, 'int16_values', 'expected list')


def test_sequence_of_messages():
    """Fill a sequence of messages from a list of dicts."""
    msg = fill_message(UnboundedSequences(), {
        'basic_types_values': [{'int8_value': 1}, {'uint8_value': 2, 'float64_value': 3}]})
    items = msg.basic_types_values
    assert [type(item) for item in items] == [BasicTypes, BasicTypes]
    assert (items[0].int8_value, items[1].uint8_value, items[1].float64_value) == (1, 2, 3.0)
    reject(UnboundedSequences(), {'basic_types_values': [{}, 3]}, 'basic_types_values[1]',
           'expected dict for test_msgs/msg/BasicTypes')
    reject(UnboundedSequences(), {'basic_types_values': [{'nope': 1}]},
           'basic_types_values[0].nope', "has no field 'nope'")


def test_pose_array_nested_lists_and_time():
    """Fill a header stamp (builtin_interfaces/Time) and a list of poses."""
    msg = fill_message(PoseArray(), {
        'header': {'stamp': {'sec': 5, 'nanosec': 7}, 'frame_id': 'map'},
        'poses': [{'position': {'x': 1}}, {'orientation': {'w': 1}}]})
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (5, 7)
    assert msg.header.frame_id == 'map'
    assert msg.poses[0].position.x == 1.0 and msg.poses[1].orientation.w == 1.0
    reject(PoseArray(), {'poses': [{}, {'position': {'x': 'a'}}]}, 'poses[1].position.x')
    reject(PoseArray(), {'header': {'stamp': {'nanosec': -1}}}, 'header.stamp.nanosec', 'uint32')
    reject(PoseArray(), {'header': {'stamp': 5}}, 'header.stamp',
           'dict for builtin_interfaces/msg/Time')


def test_duration():
    """Treat builtin_interfaces Duration as an ordinary nested message."""
    msg = fill_message(Duration(), {'sec': -3, 'nanosec': 10})
    assert (msg.sec, msg.nanosec) == (-3, 10)
    reject(Duration(), {'sec': 2 ** 31}, 'sec', 'int32')


def test_fibonacci_goal():
    """Fill an action goal, including through the action's SendGoal request."""
    goal = fill_message(Fibonacci.Goal(), {'order': 10})
    assert goal.order == 10
    reject(Fibonacci.Goal(), {'order': 2 ** 31}, 'order', 'int32')
    reject(Fibonacci.Goal(), {'order': 1.5}, 'order', 'int32')
    reject(Fibonacci.Goal(), {'steps': 1}, 'steps', 'test_msgs/action/Fibonacci_Goal',
           '(fields: order)')
    request = fill_message(Fibonacci.Impl.SendGoalService.Request(), {
        'goal': {'order': 4}, 'goal_id': {'uuid': list(range(16))}})
    assert request.goal.order == 4
    assert request.goal_id.uuid.tolist() == list(range(16))
    reject(Fibonacci.Impl.SendGoalService.Request(), {'goal': {'order': 'x'}}, 'goal.order')
    reject(Fibonacci.Impl.SendGoalService.Request(), {'goal_id': {'uuid': [0] * 15}},
           'goal_id.uuid', 'exactly 16 items')


def test_error_leaves_message_unchanged():
    """Check everything before assigning anything."""
    twist = Twist()
    twist.angular.z = 9.0
    reject(twist, {'linear': {'x': 1}, 'angular': {'z': 1, 'y': 'bad'}}, 'angular.y')
    assert (twist.linear.x, twist.angular.z) == (0.0, 9.0)


def test_generated_checks_accept_filled_values():
    """Values produced by fill_message pass the generated setters' own checks."""
    for cls in (Arrays, BoundedSequences, UnboundedSequences):
        msg = fill_message(cls(check_fields=True), {
            'bool_values': [True, False, True], 'byte_values': [0, 1, 255],
            'char_values': [1, 2, 3], 'float32_values': [1, 2.5, 1e38],
            'uint64_values': [0, 1, 2 ** 64 - 1], 'string_values': ['a', 'b', 'c'],
            'basic_types_values': [{'byte_value': 3, 'float32_value': 2}, {}, {}]})
        assert msg.basic_types_values[0].byte_value == b'\x03'
    msg = fill_message(BasicTypes(check_fields=True), {
        'bool_value': False, 'byte_value': 0, 'float32_value': 1, 'uint64_value': 2 ** 64 - 1})
    assert msg.float32_value == 1.0


class _StrictBasicTypes(BasicTypes):
    """A message class whose setter rejects a value that passes the explicit checks."""

    __slots__ = ()

    @property
    def int32_value(self):
        """Return the stored value."""
        return self._int32_value

    @int32_value.setter
    def int32_value(self, value):
        if value == 13:
            raise ValueError('unlucky')
        self._int32_value = value


def test_setter_errors_become_field_errors():
    """Convert an exception raised by a generated setter into a FieldError."""
    msg = fill_message(_StrictBasicTypes(), {'int32_value': 12})
    assert msg.int32_value == 12
    error = reject(_StrictBasicTypes(), {'int32_value': 13}, 'int32_value', 'unlucky')
    assert isinstance(error.__cause__, ValueError)


def test_checks_hold_under_python_optimize():
    """Keep rejecting bad values when asserts are stripped (python -O)."""
    code = (
        'from artbot_bridge.ros.fill import FieldError, fill_message\n'
        'from std_srvs.srv import SetBool\n'
        'from test_msgs.msg import BasicTypes\n'
        'for msg, values in ((SetBool.Request(), {"data": "yes"}),\n'
        '                    (BasicTypes(), {"uint8_value": 300})):\n'
        '    try:\n'
        '        fill_message(msg, values)\n'
        '    except FieldError as exc:\n'
        '        print(exc.field)\n'
        'assert False, "asserts are on"\n')
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))] +
        [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
    result = subprocess.run(
        [sys.executable, '-O', '-c', code], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ['data', 'uint8_value']
