"""Hub commands executed on ROS: real services, topics and an action server in a test node."""

from datetime import datetime, timezone
import os
import threading
import time
import uuid

from harness import BridgeProcess, FAST, HubHarness, wait_for
import psutil
import pytest

NS = f'/cmdtest_{os.getpid()}'


class Targets:
    """The test's own ROS targets, on a multi-threaded executor (one may hang)."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.action import ActionServer
        from rclpy.callback_groups import ReentrantCallbackGroup
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.signals import SignalHandlerOptions
        from geometry_msgs.msg import Twist
        from std_srvs.srv import SetBool, Trigger
        from test_msgs.action import Fibonacci
        self.context = rclpy.Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        node = self.node = rclpy.create_node('command_targets', context=self.context)
        group = ReentrantCallbackGroup()
        self.calls = {'ok': 0, 'slow': 0, 'count': 0}
        self.release = threading.Event()
        self.twists = []

        def trigger(name, success, message, delay=0.0):
            def callback(request, response):
                self.calls[name] = self.calls.get(name, 0) + 1
                time.sleep(delay)
                response.success, response.message = success, message
                return response
            node.create_service(Trigger, f'{NS}/{name}', callback, callback_group=group)

        trigger('ok', True, 'done')
        trigger('fail', False, 'refused by the robot')
        trigger('slow', True, 'slow done', delay=1.5)
        trigger('count', True, 'counted')

        def hang(request, response):
            self.release.wait(30)
            return response
        node.create_service(Trigger, f'{NS}/hang', hang, callback_group=group)

        def set_bool(request, response):
            response.success = request.data
            response.message = f'data was {request.data}'
            return response
        node.create_service(SetBool, f'{NS}/set_bool', set_bool, callback_group=group)
        node.create_subscription(Twist, f'{NS}/cmd_vel', self.twists.append, 10,
                                 callback_group=group)

        def fibonacci(goal_handle):
            sequence = [0, 1]
            for i in range(1, goal_handle.request.order):
                sequence.append(sequence[i] + sequence[i - 1])
                feedback = Fibonacci.Feedback()
                feedback.sequence = sequence
                goal_handle.publish_feedback(feedback)
                time.sleep(0.1)
            goal_handle.succeed()
            return Fibonacci.Result(sequence=sequence)
        self.action = ActionServer(node, Fibonacci, f'{NS}/fibonacci', fibonacci,
                                   callback_group=group)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.executor.add_node(node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Release the hanging call and shut down in order."""
        self.release.set()
        self.executor.shutdown(timeout_sec=5.0)
        self.action.destroy()
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(5.0)


def command_table():
    def service(name, path, timeout=3.0, **extra):
        return {f'{name}.service': f'{NS}/{path}', f'{name}.type': 'std_srvs/srv/Trigger',
                f'{name}.timeout': timeout, **extra}
    table = {}
    table.update(service('trigger_ok', 'ok'))
    table.update(service('trigger_fail', 'fail'))
    table.update(service('slow', 'slow', timeout=5.0))
    # A burst of 1,000 waits for 8 calls in flight: its deadline is the machine's speed, not
    # the behaviour under test (every one answered, once, successfully).
    table.update(service('count', 'count', timeout=30.0, **{'count.concurrent': True}))
    table.update(service('hang', 'hang', timeout=1.0, **{'hang.concurrent': True}))
    table.update(service('missing', 'nobody_serves_this', timeout=1.0,
                         **{'missing.concurrent': True}))
    table.update({'set_bool.service': f'{NS}/set_bool', 'set_bool.type': 'std_srvs/srv/SetBool',
                  'set_bool.arguments': ['enable=data']})
    table.update({'drive.topic': f'{NS}/cmd_vel', 'drive.type': 'geometry_msgs/msg/Twist',
                  'drive.arguments': ['speed=linear.x', 'turn=angular.z']})
    table.update({'fib.action': f'{NS}/fibonacci', 'fib.type': 'test_msgs/action/Fibonacci',
                  'fib.timeout': 10.0})
    table.update(service('reboot', 'ok', **{'reboot.system': True}))
    names = sorted({key.split('.')[0] for key in table})
    return {'commands': names, **table}


@pytest.fixture(scope='module')
def setup():
    targets = Targets()
    hub = HubHarness()
    hub.start()
    bridge = BridgeProcess({**FAST, 'hub_url': hub.url, 'agent_id': 'bot-cmd',
                            'feedback_interval': 0.0, 'max_commands_per_minute': 100000,
                            'max_concurrent_commands': 2000, **command_table()})
    try:
        hub.wait_connected('bot-cmd', timeout=20)
        yield hub, bridge, targets
    finally:
        bridge.close()
        hub.close()
        targets.close()


def utcnow():
    """Return now as the real hub stamps its commands: naive UTC, ISO 8601."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat()


def send(hub, action, parameters=None, command_id=None, kind='robot_command'):
    command_id = command_id or str(uuid.uuid4())
    hub.send_command('bot-cmd', {'command_id': command_id, 'robot_id': 'bot-cmd', 'type': kind,
                                 'action': action, 'parameters': parameters or {},
                                 'timestamp': utcnow(), 'status': 'pending'})
    return command_id


def responses(hub, command_id):
    return [m for m in hub.messages('bot-cmd', 'command_response')
            if m.get('command_id') == command_id]


def answer(hub, command_id, timeout=15.0):
    wait_for(lambda: responses(hub, command_id), timeout, f'the response to {command_id}')
    return responses(hub, command_id)[0]


def test_registration_advertises_the_allowed_actions(setup):
    hub, _, _ = setup
    capabilities = hub.events('register', agent_id='bot-cmd')[-1]['body']['robot_info'][
        'capabilities']
    assert {'ping', 'status', 'get_logs', 'reconnect', 'trigger_ok', 'fib', 'drive'} <= \
        set(capabilities)


def test_trigger_service_success_and_failure(setup):
    hub, _, _ = setup
    ok = answer(hub, send(hub, 'trigger_ok'))
    assert ok['success'] is True and ok['data']['message'] == 'done'
    assert ok['data']['result'] == {'success': True, 'message': 'done'}
    failed = answer(hub, send(hub, 'trigger_fail'))
    assert failed['success'] is False and failed['data']['message'] == 'refused by the robot'


def test_set_bool_and_topic_publish_with_mapped_parameters(setup):
    hub, _, targets = setup
    reply = answer(hub, send(hub, 'set_bool', {'enable': True}))
    assert reply['success'] is True and reply['data']['message'] == 'data was True'
    reply = answer(hub, send(hub, 'drive', {'speed': 0.5, 'turn': -1}))
    assert reply['success'] is True
    assert reply['data']['result']['published']['linear']['x'] == 0.5
    wait_for(lambda: targets.twists, 10, 'the Twist on the topic')
    assert targets.twists[-1].linear.x == 0.5 and targets.twists[-1].angular.z == -1.0


def test_wrong_typed_parameter_is_refused_naming_the_field(setup):
    hub, _, targets = setup
    reply = answer(hub, send(hub, 'set_bool', {'enable': 'yes'}))
    assert reply['success'] is False
    assert reply['data']['field'] == 'data' and "'data'" in reply['data']['message']
    reply = answer(hub, send(hub, 'drive', {'speed': 'fast'}))
    assert reply['success'] is False and reply['data']['field'] == 'linear.x'
    reply = answer(hub, send(hub, 'drive', {'sped': 1.0}))
    assert reply['success'] is False and 'sped' in reply['data']['message']


def test_action_goal_with_feedback_forwarded_and_result_returned(setup):
    hub, _, _ = setup
    command_id = send(hub, 'fib', {'order': 5})
    reply = answer(hub, command_id)
    assert reply['success'] is True, reply
    assert reply['data']['result']['sequence'] == [0, 1, 1, 2, 3, 5]
    assert reply['data']['status'] == 'succeeded'
    feedback = [m['data'] for m in hub.messages('bot-cmd', 'log_entry')
                if m['data'].get('details', {}).get('command_id') == command_id]
    assert feedback and feedback[0]['message'] == 'fib feedback'
    assert feedback[0]['level'] == 'INFO'
    assert feedback[-1]['details']['feedback']['sequence'][:3] == [0, 1, 1]


def test_unknown_action_lists_the_allowed_ones_and_the_bridge_keeps_running(setup):
    hub, bridge, _ = setup
    reply = answer(hub, send(hub, 'self_destruct'))
    assert reply['success'] is False and 'trigger_ok' in reply['data']['message']
    assert 'ping' in reply['data']['allowed']
    assert answer(hub, send(hub, 'ping'))['success'] is True
    assert bridge.alive()


def test_system_command_runs_only_when_the_table_allows_it(setup):
    hub, _, _ = setup
    refused = answer(hub, send(hub, 'trigger_ok', kind='system_command'))
    assert refused['success'] is False and 'not enabled' in refused['data']['message']
    allowed = answer(hub, send(hub, 'reboot', kind='system_command'))
    assert allowed['success'] is True


def test_missing_and_hanging_servers_are_answered_within_the_timeout(setup):
    hub, _, _ = setup
    started = time.monotonic()
    missing, hanging = send(hub, 'missing'), send(hub, 'hang')
    missing_reply, hanging_reply = answer(hub, missing), answer(hub, hanging)
    assert time.monotonic() - started < 1.0 + 2.0
    assert missing_reply['success'] is False
    assert 'not available' in missing_reply['data']['message']
    assert hanging_reply['success'] is False
    assert 'did not answer within 1 s' in hanging_reply['data']['message']


def test_same_command_id_twice_runs_once_and_is_answered_each_time(setup):
    hub, _, targets = setup
    before = targets.calls['slow']
    command_id = send(hub, 'slow')
    send(hub, 'slow', command_id=command_id)  # repeated while it runs
    wait_for(lambda: len(responses(hub, command_id)) == 2, 15, 'two answers')
    send(hub, 'slow', command_id=command_id)  # repeated after it was answered
    wait_for(lambda: len(responses(hub, command_id)) == 3, 15, 'a third answer')
    first, *rest = responses(hub, command_id)
    assert all(reply == first for reply in rest)
    assert targets.calls['slow'] == before + 1


def test_status_get_logs_and_busy_refusal(setup):
    hub, _, _ = setup
    status = answer(hub, send(hub, 'status'))
    assert status['success'] is True and status['data']['result']['link']['state'] == 'connected'
    slow = send(hub, 'slow')
    busy = answer(hub, send(hub, 'trigger_ok'))
    assert busy['success'] is False and 'busy' in busy['data']['message']
    answer(hub, slow)
    for _ in range(3):  # action feedback: log lines sent to the hub, so get_logs has some
        assert answer(hub, send(hub, 'fib', {'order': 3}))['success'] is True
    every = answer(hub, send(hub, 'get_logs', {'lines': 500}))['data']['result']['logs']
    logs = answer(hub, send(hub, 'get_logs', {'lines': 5}))
    assert len(every) >= 5 and logs['success'] is True
    assert logs['data']['result']['logs'] == every[-5:]
    bad = answer(hub, send(hub, 'get_logs', {'lines': 'all'}))
    assert bad['success'] is False and bad['data']['field'] == 'lines'


def test_thousand_commands_in_a_burst_each_answered_once(setup):
    hub, bridge, targets = setup
    process = psutil.Process(bridge.process.pid)

    def burst():
        ids = [str(uuid.uuid4()) for _ in range(1000)]
        for command_id in ids:
            send(hub, 'count', command_id=command_id)
        wanted = set(ids)
        wait_for(lambda: wanted <= {m['command_id']
                                    for m in hub.messages('bot-cmd', 'command_response')},
                 120, '1,000 answers')
        answered = [m for m in hub.messages('bot-cmd', 'command_response')
                    if m['command_id'] in wanted]
        assert len(answered) == 1000
        failed = [m['data']['message'] for m in answered if not m['success']]
        assert not failed, f'{len(failed)} failed, e.g. {failed[:3]}'

    burst()  # warms caches and the allocator
    baseline = process.memory_info().rss
    burst()
    time.sleep(0.5)
    grown = (process.memory_info().rss - baseline) / 2 ** 20
    assert grown < 8.0, f'RSS grew {grown:.1f} MB over a second burst'


def test_link_cut_while_a_command_runs_delivers_the_response_once_after_reconnect(setup):
    hub, _, _ = setup
    connects = len(hub.events('connect', agent_id='bot-cmd'))
    command_id = send(hub, 'slow')
    hub.kick('bot-cmd', code=1012)
    hub.wait_connected('bot-cmd', count=connects + 1)
    reply = answer(hub, command_id, timeout=20)
    assert reply['success'] is True
    time.sleep(1.0)  # nothing more may follow
    assert len(responses(hub, command_id)) == 1
    reconnect_t = hub.events('connect', agent_id='bot-cmd')[-1]['t']
    delivered = [e for e in hub.events('message', agent_id='bot-cmd', type='command_response')
                 if e['message']['command_id'] == command_id]
    assert delivered[0]['t'] > reconnect_t
