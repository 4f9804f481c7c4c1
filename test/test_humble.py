"""
The bridge's Humble paths, taken on the `humble` lane (docs/humble.md).

On that lane every Python process holds the bridge's imports to the modules of Humble's rclpy
(test/humble_api.py, loaded as `artbot_humble_api`): each test checks that the bridge took the
path Humble's rclpy makes it take. On the other lanes the same tests check the other path.
"""

import importlib.util
import warnings

from harness import wait_for
import pytest

HUMBLE_LANE = importlib.util.find_spec('artbot_humble_api') is not None


@pytest.fixture
def context():
    """Return an initialised rclpy context of the test's own."""
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    yield context
    context.try_shutdown()


def test_the_executor_is_the_one_this_rclpy_has(context):
    """Humble's rclpy has no rclpy.experimental: `auto` and `events` take the single one."""
    from artbot_bridge.ros import spin
    kinds = {choice: type(spin.make_executor(choice, context)).__name__
             for choice in ('auto', 'events', 'single')}
    if HUMBLE_LANE:
        import artbot_humble_api
        assert ('artbot_bridge.ros.spin', 'rclpy.experimental') in artbot_humble_api.refused
        assert spin.EventsExecutor is None
        assert kinds == dict.fromkeys(kinds, 'SingleThreadedExecutor')
    else:
        assert kinds == {'auto': 'EventsExecutor', 'events': 'EventsExecutor',
                         'single': 'SingleThreadedExecutor'}


def test_the_qos_event_callbacks_come_from_where_this_rclpy_keeps_them(context):
    """Humble's rclpy keeps them in rclpy.qos_event; rclpy.event_handler came with Iron."""
    import rclpy
    from artbot_bridge.ros import node
    if HUMBLE_LANE:
        import artbot_humble_api
        assert ('artbot_bridge.ros.node', 'rclpy.event_handler') in artbot_humble_api.refused
    else:
        assert node.PublisherEventCallbacks.__module__ == 'rclpy.event_handler'
    peer = rclpy.create_node('artbot_bridge_test_qos_events', context=context)
    try:  # the bridge's publishers and subscriptions take them, with no default callbacks
        from std_msgs.msg import String
        peer.create_publisher(String, 'probe', 1, **node.QUIET_PUB)
        peer.create_subscription(String, 'probe', lambda _: None, 1, **node.QUIET_SUB)
    finally:
        peer.destroy_node()


def test_the_lane_refuses_only_the_bridge_s_imports_that_humble_lacks():
    probe = 'from rclpy import {}'
    bridge = {'__name__': 'artbot_bridge.probe'}
    with warnings.catch_warnings():  # Jazzy's says it is deprecated
        warnings.simplefilter('ignore')
        exec(probe.format('qos_event'), dict(bridge))  # Humble has it
    exec(probe.format('experimental'), {'__name__': 'not_the_bridge'})  # not the bridge's
    if HUMBLE_LANE:
        for module in ('experimental', 'event_handler', 'type_hash'):
            with pytest.raises(ModuleNotFoundError, match=f'rclpy.{module}'):
                exec(probe.format(module), dict(bridge))
    else:
        exec(probe.format('experimental'), dict(bridge))


def test_the_bridge_process_runs_on_the_executor_this_rclpy_has(hub, start_bridge):
    bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'humble-bot'})
    hub.wait_connected('humble-bot')
    kind = 'SingleThreadedExecutor' if HUMBLE_LANE else 'EventsExecutor'
    wait_for(lambda: f'; {kind})' in bridge.output(), 10.0, f'the start-up line naming {kind}',
             bridge.output)


def test_an_override_with_no_type_is_refused_where_this_rclpy_leaves_it(context, tmp_path):
    """
    `status_sources: []` in a params file gives the override no type (NOT_SET).

    Humble's rclpy declares it so, and `_given()` refuses it; Jazzy's and later raise ValueError
    in the Node constructor, which `untyped_parameter` turns into the same line.
    """
    from artbot_bridge.core.settings import SettingsError
    from artbot_bridge.ros.node import BridgeNode
    params = tmp_path / 'params.yaml'
    params.write_text("/**:\n  ros__parameters:\n    hub_url: 'http://127.0.0.1:9'\n"
                      '    status_sources: []\n')
    try:
        node = BridgeNode(context=context, cli_args=['--ros-args', '--params-file', str(params)])
    except SettingsError as err:
        refused = err
    else:
        node.destroy_node()
        pytest.fail('the bridge took an empty status_sources, which has no type for ROS')
    # The line the bridge prints after `artbot_bridge: ` (exit 2), naming the parameter.
    assert str(refused) == ("invalid parameter 'status_sources': no value, or an empty list, "
                            'which has no type for ROS; leave it out instead')
    raised_in = refused.__traceback__
    while raised_in.tb_next is not None:
        raised_in = raised_in.tb_next
    if HUMBLE_LANE:
        import artbot_humble_api
        assert 'status_sources' in artbot_humble_api.untyped  # declared NOT_SET, as on Humble
        assert raised_in.tb_frame.f_code.co_name == '_given'
    else:
        assert raised_in.tb_frame.f_code.co_name == '__init__'  # rclpy's ValueError, answered
