"""Unit tests for artbot_bridge.ros.interfaces and .read using real generated ROS 2 messages."""

import array
import json
import math

from artbot_bridge.ros import interfaces
from artbot_bridge.ros.interfaces import check_path, InterfaceTypeError, load_interface
from artbot_bridge.ros.read import get_path, to_plain
from nav_msgs.msg import Odometry
import numpy
import pytest
from sensor_msgs.msg import BatteryState
from std_msgs.msg import Bool, Header, String
from std_srvs.srv import Trigger
from test_msgs.action import Fibonacci
from test_msgs.msg import Arrays, BasicTypes, UnboundedSequences


def dumps(value) -> str:
    """Serialize strictly, as the bridge does on the wire."""
    return json.dumps(value, allow_nan=False)


def make_odometry() -> Odometry:
    """Build an odometry message with nested values and a NaN."""
    odom = Odometry()
    odom.header.frame_id = 'odom'
    odom.header.stamp.sec = 12
    odom.header.stamp.nanosec = 345
    odom.child_frame_id = 'base_link'
    odom.pose.pose.position.x = 1.5
    odom.pose.pose.orientation.w = float('nan')
    odom.pose.covariance[0] = 0.25
    odom.twist.covariance[35] = float('inf')
    return odom


@pytest.mark.parametrize('type_name, expected', [
    ('std_msgs/msg/String', String),
    ('std_msgs/String', String),
    ('std_srvs/srv/Trigger', Trigger),
    ('test_msgs/action/Fibonacci', Fibonacci),
    ('nav_msgs/msg/Odometry', Odometry),
])
def test_load_interface_success(type_name, expected):
    """Load msg, short msg, srv and action type strings."""
    assert load_interface(type_name) is expected


@pytest.mark.parametrize('type_name, fragment', [
    ('sensor_msgs/msg/Nope', 'sensor_msgs.msg has no Nope'),
    ('no_such_pkg_xyz/msg/Foo', 'cannot import no_such_pkg_xyz.msg'),
    ('std_msgs/bogus/String', 'expected'),
    ('std_msgs.msg.String', 'expected'),
    ('String', 'expected'),
    ('std_msgs/msg/String/extra', 'expected'),
    ('std_msgs//String', 'expected'),
    ('', 'expected'),
    ('std_srvs/srv/String', 'std_srvs.srv has no String'),
])
def test_load_interface_failure(type_name, fragment):
    """Reject malformed or unknown type strings with a helpful message."""
    with pytest.raises(InterfaceTypeError) as info:
        load_interface(type_name)
    assert repr(type_name) in str(info.value)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)


def test_load_interface_is_cached():
    """Serve repeated look-ups from the cache."""
    load_interface('std_msgs/msg/Bool')
    hits = load_interface.cache_info().hits
    assert load_interface('std_msgs/msg/Bool') is Bool
    assert load_interface.cache_info().hits == hits + 1


def test_string_and_bool():
    """Convert single-field std_msgs messages."""
    assert to_plain(String(data='héllo')) == {'data': 'héllo'}
    plain = to_plain(Bool(data=True))
    assert plain == {'data': True} and plain['data'] is True


def test_header_with_builtin_time():
    """Recurse into the builtin Time inside a Header."""
    header = Header(frame_id='map')
    header.stamp.sec = 7
    header.stamp.nanosec = 9
    assert to_plain(header) == {'stamp': {'sec': 7, 'nanosec': 9}, 'frame_id': 'map'}


def test_battery_state_nan_and_sequences():
    """Turn NaN into None and float sequences into lists."""
    msg = BatteryState(voltage=12.5, present=True, location='slot1')
    msg.percentage = float('nan')
    msg.cell_voltage = [4.1, float('nan'), 4.2]
    plain = to_plain(msg)
    assert plain['percentage'] is None
    assert plain['voltage'] == 12.5
    assert plain['cell_voltage'][1] is None
    assert plain['cell_voltage'][0] == pytest.approx(4.1)
    assert plain['cell_temperature'] == []
    assert plain['header']['stamp'] == {'sec': 0, 'nanosec': 0}
    assert list(plain) == list(BatteryState.get_fields_and_field_types())
    json.loads(dumps(plain))


def test_long_sequence_collapses():
    """Replace sequences longer than max_array with a count."""
    msg = BatteryState()
    msg.cell_voltage = [3.7] * 100
    assert to_plain(msg)['cell_voltage'] == '<100 items>'
    assert to_plain(msg, max_array=100)['cell_voltage'] == [pytest.approx(3.7)] * 100


def test_odometry_nested_and_covariance():
    """Convert nested Odometry and its numpy covariance arrays."""
    odom = make_odometry()
    assert isinstance(odom.pose.covariance, numpy.ndarray)
    plain = to_plain(odom)
    assert plain['header'] == {'stamp': {'sec': 12, 'nanosec': 345}, 'frame_id': 'odom'}
    assert plain['child_frame_id'] == 'base_link'
    assert plain['pose']['pose']['position'] == {'x': 1.5, 'y': 0.0, 'z': 0.0}
    assert plain['pose']['pose']['orientation']['w'] is None
    covariance = plain['pose']['covariance']
    assert len(covariance) == 36 and covariance[0] == 0.25
    assert all(type(value) is float for value in covariance)
    assert plain['twist']['covariance'][35] is None
    dumps(plain)
    short = to_plain(odom, max_array=10)
    assert short['pose']['covariance'] == '<36 items>'
    assert short['twist']['covariance'] == '<36 items>'
    dumps(short)


def test_basic_types_octet_and_numpy_scalars():
    """Convert octets to int and numpy scalars to Python scalars."""
    msg = BasicTypes(byte_value=b'\x07', char_value=65, uint64_value=2 ** 63)
    msg.float64_value = float('-inf')
    plain = to_plain(msg)
    assert plain['byte_value'] == 7
    assert plain['char_value'] == 65
    assert plain['uint64_value'] == 2 ** 63
    assert plain['float64_value'] is None
    dumps(plain)
    assert to_plain(numpy.float32(0.5)) == 0.5 and type(to_plain(numpy.float32(0.5))) is float
    assert type(to_plain(numpy.int64(3))) is int
    assert to_plain(numpy.bool_(True)) is True
    assert to_plain(numpy.float64('nan')) is None


def test_fixed_arrays_of_all_kinds():
    """Convert every kind of fixed-size array field."""
    msg = Arrays()
    msg.byte_values = [b'\x01', b'\x02', b'\xff']
    msg.float32_values = numpy.array([1.0, numpy.nan, 2.0], dtype=numpy.float32)
    msg.string_values = ['a', 'b', 'c']
    plain = to_plain(msg)
    assert plain['byte_values'] == [1, 2, 255]
    assert plain['float32_values'] == [1.0, None, 2.0]
    assert plain['uint8_values'] == [0, 0, 0]
    assert all(type(v) is int for v in plain['int64_values'])
    assert plain['bool_values'] == [False, False, False]
    assert plain['string_values'] == ['a', 'b', 'c']
    assert len(plain['basic_types_values']) == 3
    assert plain['basic_types_values'][0]['byte_value'] == 0
    dumps(plain)
    assert to_plain(msg, max_array=2)['basic_types_values'] == '<3 items>'


def test_unbounded_sequences_bytes_and_array():
    """Convert bytes-assigned uint8 sequences and octet lists."""
    msg = UnboundedSequences()
    msg.uint8_values = bytes(range(5))
    assert isinstance(msg.uint8_values, array.array)
    msg.byte_values = [b'\x05'] * 70
    msg.basic_types_values = [BasicTypes(int32_value=-4)]
    plain = to_plain(msg)
    assert plain['uint8_values'] == [0, 1, 2, 3, 4]
    assert plain['byte_values'] == '<70 items>'
    assert plain['basic_types_values'][0]['int32_value'] == -4
    dumps(plain)


def test_raw_bytes_values():
    """Apply the length rule to raw bytes, bytearray and array values."""
    assert to_plain(b'\x01\x02') == [1, 2]
    assert to_plain(bytearray(100)) == '<100 items>'
    assert to_plain(array.array('B', [9, 8])) == [9, 8]
    assert to_plain(array.array('f', [float('inf')])) == [None]


def test_introspection_is_cached_per_class():
    """Introspect each message class only once."""
    to_plain(make_odometry())
    info = interfaces._INFO[Odometry]
    to_plain(make_odometry())
    assert interfaces._INFO[Odometry] is info


def test_get_path():
    """Resolve dotted paths to plain values."""
    odom = make_odometry()
    assert get_path(odom, 'pose.pose.position.x') == 1.5
    assert get_path(odom, 'pose.pose.orientation.w') is None
    assert get_path(odom, 'header.frame_id') == 'odom'
    assert get_path(odom, 'header.stamp') == {'sec': 12, 'nanosec': 345}
    assert get_path(odom, 'pose.covariance', max_array=10) == '<36 items>'
    assert len(get_path(odom, 'pose.covariance')) == 36
    assert get_path(Arrays(byte_values=[b'\x03'] * 3), 'byte_values') == [3, 3, 3]
    assert get_path(BasicTypes(byte_value=b'\x04'), 'byte_value') == 4
    assert get_path(BatteryState(percentage=math.nan), 'percentage') is None


@pytest.mark.parametrize('path, fragment', [
    ('pose.pose.nope', "geometry_msgs/msg/Pose has no field 'nope'"),
    ('pose.pose.position.x.y', "cannot look up 'y'"),
    ('', "has no field ''"),
])
def test_get_path_missing(path, fragment):
    """Raise KeyError naming the missing segment."""
    with pytest.raises(KeyError) as info:
        get_path(make_odometry(), path)
    assert fragment in str(info.value)


def test_check_path_valid():
    """Accept valid paths, including action-internal nested types."""
    check_path(Odometry, 'pose.pose.position.x')
    check_path(Odometry, 'header.stamp.sec')
    check_path(Odometry, 'twist.covariance')
    check_path(BatteryState, 'cell_voltage')
    check_path(Fibonacci.Impl.SendGoalService.Request, 'goal.order')


@pytest.mark.parametrize('msg_class, path, fragment', [
    (Odometry, 'pose.pose.nope', "geometry_msgs/msg/Pose has no field 'nope'"),
    (Odometry, 'pose.pose.position.x.y', "'pose.pose.position.x' is 'double'"),
    (Odometry, 'pose..x', "has no field ''"),
    (Arrays, 'basic_types_values.int32_value', 'test_msgs/BasicTypes[3]'),
    (BatteryState, 'voltage_typo', "sensor_msgs/msg/BatteryState has no field 'voltage_typo'"),
])
def test_check_path_invalid(msg_class, path, fragment):
    """Reject invalid paths naming the path and the type."""
    with pytest.raises(InterfaceTypeError) as info:
        check_path(msg_class, path)
    assert repr(path) in str(info.value)
    assert fragment in str(info.value)


def test_check_path_rejects_non_message():
    """Reject classes that are not ROS messages."""
    with pytest.raises(InterfaceTypeError, match='not a ROS message class'):
        check_path(int, 'x')
