"""
The fault suite (`pytest -m fault`): the real bridge against a hub that misbehaves.

Each test is bounded in time and prints one summary line of what it survived.
"""

import json
import os
import re
import signal
import time
import uuid

from harness import FAST, FaultProxy, TriggerTarget, wait_for
from hypothesis import given, HealthCheck, Phase, settings, strategies as st
import psutil
import pytest

pytestmark = pytest.mark.fault
NS = f'/faulttest_{os.getpid()}'


def rss_mb(bridge) -> float:
    return psutil.Process(bridge.process.pid).memory_info().rss / 2 ** 20


def test_hub_restarted_50_times_while_commands_stream(hub, start_bridge):
    target = TriggerTarget(f'{NS}/count')
    try:
        start_bridge({'hub_url': hub.url, 'agent_id': 'bot-50', 'heartbeat_interval': 5.0,
                      'commands': ['count'], 'count.service': f'{NS}/count',
                      'count.type': 'std_srvs/srv/Trigger', 'count.concurrent': True})
        hub.wait_connected('bot-50', timeout=20)
        sent = []
        for restart in range(50):
            for _ in range(4):
                command_id = str(uuid.uuid4())
                sent.append(command_id)
                hub.send_command('bot-50', {'command_id': command_id, 'action': 'count'})
            hub.stop()
            hub.start()
            connect = hub.wait_connected('bot-50', count=restart + 2)
            # Responses queued during the outage go out before the heartbeat sent on connect.
            wait_for(lambda: any(e['t'] > connect['t'] for e in hub.events(
                'message', agent_id='bot-50', type='heartbeat')), 10,
                'the heartbeat sent on connect')
            answered = hub.answer_counts('bot-50')
            for command_id in sent:  # a resending hub (the Artbot hub never resends)
                if command_id not in answered:
                    hub.send_command('bot-50', {'command_id': command_id, 'action': 'count'})
        wait_for(lambda: set(sent) <= set(hub.answer_counts('bot-50')), 30, 'every answer')
        counts = hub.answer_counts('bot-50')
        # Each command ran once. An answer may arrive twice: this hub resends what it has no
        # answer for yet, and an answer it had not read when it went down is sent again.
        assert set(counts) >= set(sent)
        failed = [m for m in hub.messages('bot-50', 'command_response') if not m['success']]
        assert not failed, [(m['command_id'], m['data']) for m in failed[:3]]
        assert target.calls == len(sent)  # each run exactly once, none lost
        connects = hub.events('connect', agent_id='bot-50')
        assert len(connects) == 51 and all(event['registered'] for event in connects)
        print(f'\nfault: restarts survived 50, commands {len(sent)}, executed {target.calls}, '
              f'answered {len(counts)}, answers sent twice {sum(counts.values()) - len(counts)}, '
              f'registrations '
              f'{len(hub.events("register", agent_id="bot-50"))}')
    finally:
        target.kill()


def test_black_hole_link_is_detected_redialled_and_recovers(hub, start_bridge, ros):
    from std_msgs.msg import Bool
    from rclpy.qos import DurabilityPolicy, QoSProfile
    proxy = FaultProxy(hub.loop, hub.hub.port)
    try:
        params = {'hub_url': f'http://127.0.0.1:{proxy.port}', 'agent_id': 'bot-hole',
                  'ping_interval': 1.0, 'ping_timeout': 1.0}
        connected = ros.collect(Bool, '/artbot_bridge/hub_connected',
                                QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        bridge = start_bridge(params)
        hub.wait_connected('bot-hole')
        wait_for(lambda: connected and connected[-1].data, 10, '~/hub_connected true')
        proxy.blackhole = True
        cut = time.monotonic()
        wait_for(lambda: not connected[-1].data, 10, 'the dead link noticed', bridge.output)
        detected = time.monotonic() - cut
        limit = params['ping_interval'] + params['ping_timeout'] + FAST['close_timeout']
        # The keepalive's own bound, plus what a loaded 2-core machine adds: the wait_for poll,
        # DDS delivery of hub_connected, and the loop's scheduling (measured up to ~0.5 s).
        assert detected <= limit + 2.0
        time.sleep(1.0)  # stay dark for a while: attempts through the hole must fail too
        proxy.blackhole = False
        healed = time.monotonic()
        hub.wait_connected('bot-hole', count=2, timeout=20)
        print(f'\nfault: black hole detected after {detected:.1f} s '
              f'(limit {limit:.1f} s), back {time.monotonic() - healed:.1f} s after healing')
        assert bridge.alive()
    finally:
        proxy.close()


def test_stalled_hub_keeps_memory_bounded_and_recovers(hub, start_bridge, ros):
    from std_msgs.msg import String
    proxy = FaultProxy(hub.loop, hub.hub.port)
    try:
        bridge = start_bridge({
            'hub_url': f'http://127.0.0.1:{proxy.port}', 'agent_id': 'bot-stall',
            'heartbeat_interval': 0.2, 'monitor_interval': 0.2, 'ping_interval': 3.0,
            'ping_timeout': 6.0, 'hub_log_level': 'none', 'log_rate': 1000.0,
            'max_queued_responses': 50, 'max_queued_logs': 20, 'max_queued_bytes': 2 ** 21,
            'max_commands_per_minute': 100000})
        hub.wait_connected('bot-stall')
        echoed = ros.collect(String, '/artbot_bridge/commands', 1000)
        events = ros.node.create_publisher(String, '/artbot_bridge/events', 100)
        wait_for(lambda: events.get_subscription_count() > 0, 10, 'the ~/events subscription')
        wait_for(lambda: len(hub.messages('bot-stall', 'heartbeat')) > 5, 10, 'heartbeats')
        idle = peak = rss_mb(bridge)
        proxy.stalled = True
        sent = 0
        deadline = time.monotonic() + 8.0
        while time.monotonic() < deadline:  # floods while nothing is read
            for _ in range(20):  # incompressible, so deflate cannot shrink the backlog
                events.publish(String(data=os.urandom(1000).hex()))
            # get_logs answers are ~400 KB each: the backlog outgrows the socket buffers.
            hub.send_command('bot-stall', {'command_id': f'stall-{sent}', 'action': 'get_logs',
                                           'parameters': {'lines': 200}})
            sent += 1
            peak = max(peak, rss_mb(bridge))
            time.sleep(0.02)
        # Recovery: the same connection drains, or keepalive drops it and the bridge redials.
        proxy.stalled = False
        beats = len(hub.messages('bot-stall', 'heartbeat'))
        wait_for(lambda: len(hub.messages('bot-stall', 'heartbeat')) > beats + 2, 30,
                 'heartbeats after the stall', lambda: bridge.output()[-2000:])
        hub.send_command('bot-stall', {'command_id': 'stall-status', 'action': 'status'})
        wait_for(lambda: 'stall-status' in hub.answer_counts('bot-stall'), 20, 'status')
        link = [m for m in hub.messages('bot-stall', 'command_response')
                if m['command_id'] == 'stall-status'][0]['data']['result']['link']
        # ~400 KB answers outgrow this test's 2 MiB budget: some are dropped, and every answer
        # that did not arrive is one counted as dropped, never one lost silently.
        received = {json.loads(m.data)['command_id'] for m in echoed} - {'stall-status'}
        missing = received - set(hub.answer_counts('bot-stall'))
        print(f'\nfault: stalled hub: RSS idle {idle:.1f} MB, peak {peak:.1f} MB; '
              f'{sent} commands sent, {len(received)} read, {len(missing)} not answered, '
              f'dropped responses {link["dropped_responses"]}, resent {link["resent"]}, '
              f'dropped logs {link["dropped_logs"]}')
        assert peak - idle < 20.0
        assert len(missing) <= link['dropped_responses']
        assert link['dropped_logs'] > 0
        assert bridge.alive()
    finally:
        proxy.close()


def test_answers_written_into_a_stalled_socket_are_sent_again_after_the_redial(hub, start_bridge,
                                                                               ros):
    """
    The hub stops reading and keepalive ends the link.

    What was written but never read is sent again on the next link: every command the
    bridge read gets its answer.
    """
    from std_msgs.msg import String
    proxy = FaultProxy(hub.loop, hub.hub.port)
    try:
        bridge = start_bridge({
            'hub_url': f'http://127.0.0.1:{proxy.port}', 'agent_id': 'bot-unread',
            'ping_interval': 1.0, 'ping_timeout': 1.0, 'heartbeat_interval': 5.0,
            'max_commands_per_minute': 100000})
        hub.wait_connected('bot-unread')
        echoed = ros.collect(String, '/artbot_bridge/commands', 1000)
        wait_for(lambda: ros.node.count_publishers('/artbot_bridge/commands') > 0, 10,
                 'the bridge and the test discovering each other')
        proxy.stalled = True
        for n in range(40):  # 4 s of commands into a link nobody reads from
            hub.send_command('bot-unread', {'command_id': f'unread-{n}', 'action': 'ping'})
            time.sleep(0.1)
        proxy.stalled = False
        hub.wait_connected('bot-unread', count=2, timeout=20)
        received = {json.loads(m.data)['command_id'] for m in echoed}
        wait_for(lambda: received <= set(hub.answer_counts('bot-unread')), 20,
                 'an answer to every command the bridge read',
                 lambda: sorted(received - set(hub.answer_counts('bot-unread')))[:5])
        # The hub sends commands on an agent's first socket: wait until the old one is gone.
        wait_for(lambda: len(hub.hub.sockets.get('bot-unread', [])) == 1, 20,
                 'the stalled link closed at the hub', lambda: hub.events('disconnect'))
        hub.send_command('bot-unread', {'command_id': 'unread-status', 'action': 'status'})
        wait_for(lambda: 'unread-status' in hub.answer_counts('bot-unread'), 10, 'status')
        link = [m for m in hub.messages('bot-unread', 'command_response')
                if m['command_id'] == 'unread-status'][0]['data']['result']['link']
        print(f'\nfault: unread answers: {len(received)} commands read in the stall, all '
              f'answered; {link["resent"]} frames sent again after the redial')
        assert len(received) >= 10 and link['resent'] > 0 and link['dropped_responses'] == 0
        assert bridge.alive()
    finally:
        proxy.close()


def test_sigterm_with_a_hub_that_stopped_reading_ends_within_close_timeout(hub, start_bridge):
    """The close handshake gets no answer: the bridge drops the link when close_timeout ends."""
    proxy = FaultProxy(hub.loop, hub.hub.port)
    try:
        bridge = start_bridge({'hub_url': f'http://127.0.0.1:{proxy.port}',
                               'agent_id': 'bot-deaf', 'close_timeout': 1.5,
                               'ping_interval': 30.0, 'ping_timeout': 30.0})
        hub.wait_connected('bot-deaf')
        proxy.stalled = True
        for n in range(20):  # answers the hub never reads: unproven at shutdown
            hub.send_command('bot-deaf', {'command_id': f'deaf-{n}', 'action': 'ping'})
        time.sleep(0.5)
        sent = time.monotonic()
        bridge.signal(signal.SIGTERM)
        assert bridge.wait(10) == 0, bridge.output()
        took = time.monotonic() - sent
        output = bridge.output()
        print(f'\nfault: SIGTERM with a hub that stopped reading: exit 0 after {took:.2f} s '
              f'(close_timeout 1.5 s)')
        assert 'did not complete the close within 1.5 s; connection dropped' in output, output
        assert 'Traceback' not in output and 'did not close cleanly' not in output, output
    finally:
        proxy.close()


def test_a_burst_of_commands_is_answered_in_full_on_a_healthy_link(hub, start_bridge):
    """
    Far more commands in one go than answers may queue are all answered.

    The bridge reads them as fast as it can send the answers, and drops none.
    """
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-burst', 'max_queued_responses': 20,
                  'max_commands_per_minute': 1000000, 'heartbeat_interval': 5.0})
    hub.wait_connected('bot-burst')
    ids = [f'burst-{n}' for n in range(3000)]

    async def burst() -> None:
        ws = hub.hub.sockets['bot-burst'][0]
        for command_id in ids:
            await ws.send_str(json.dumps({'command_id': command_id, 'action': 'ping'}))
    started = time.monotonic()
    hub.loop.run(burst(), timeout=60)
    wait_for(lambda: len(hub.answer_counts('bot-burst')) >= len(ids), 60,
             'every answer', lambda: len(hub.answer_counts('bot-burst')))
    took = time.monotonic() - started
    counts = hub.answer_counts('bot-burst')
    assert set(counts) == set(ids) and set(counts.values()) == {1}
    hub.send_command('bot-burst', {'command_id': 'burst-status', 'action': 'status'})
    wait_for(lambda: 'burst-status' in hub.answer_counts('bot-burst'), 10, 'status')
    link = [m for m in hub.messages('bot-burst', 'command_response')
            if m['command_id'] == 'burst-status'][0]['data']['result']['link']
    print(f'\nfault: burst of {len(ids)} commands in one write (max_queued_responses 20): '
          f'{len(counts)} answered, each once, in {took:.1f} s; '
          f'{link["dropped_responses"]} dropped')
    assert link['dropped_responses'] == 0, link


# -- 10,000 malformed or mutated frames --------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)
COMMAND = st.fixed_dictionaries(
    {'command_id': st.one_of(st.uuids().map(str), st.text(max_size=250), st.integers(),
                             st.none(), st.just('')),
     'action': st.one_of(st.sampled_from(['ping', 'status', 'get_logs', 'dock']),
                         st.text(max_size=20).filter(lambda a: a != 'reconnect'),
                         st.integers(), JSON)},
    optional={'parameters': st.one_of(st.dictionaries(st.text(max_size=6), JSON), JSON),
              'type': st.sampled_from(['robot_command', 'system_command', 'other', '']),
              'robot_id': JSON, 'status': JSON})
FRAME = st.one_of(
    COMMAND.map(json.dumps),
    JSON.map(json.dumps),
    st.binary(max_size=64),
    st.text(max_size=64),
    st.integers(30, 3000).map(lambda depth: '{"command_id": "deep", "action": "ping", '
                              '"parameters": ' + '{"a": ' * depth + '1' + '}' * depth + '}'),
    st.integers(1, 5000).map(lambda depth: '[' * depth),
    st.integers(10_000, 200_000).map(lambda size: json.dumps(
        {'command_id': f'huge-{size}', 'action': 'x' * size})),
)


def readable_id(frame):
    """Return the command_id the bridge can answer, as the hub would read it (or None)."""
    if isinstance(frame, bytes):
        return None
    try:
        payload = json.loads(frame)
    except ValueError:
        return None
    except RecursionError:  # too deep to parse: a leading command_id is still answered
        leading = re.match(r'\s*\{\s*"command_id"\s*:\s*"([^"\\]{1,200})"', frame)
        return leading.group(1) if leading else None
    command_id = payload.get('command_id') if isinstance(payload, dict) else None
    return command_id if isinstance(command_id, str) and command_id else None


def test_ten_thousand_malformed_frames(hub, start_bridge):
    # The link's own bounds are widened: this test is about frames, and on a loaded machine a
    # batch of large answers may wait longer for its echo than the fast timings allow.
    bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-fuzz',
                           'max_commands_per_minute': 1000000, 'heartbeat_interval': 5.0,
                           'echo_timeout': 20.0, 'ping_interval': 10.0, 'ping_timeout': 20.0})
    hub.wait_connected('bot-fuzz')
    expected = {}
    totals = {'frames': 0, 'with_id': 0}
    rss = []

    @settings(max_examples=100, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.lists(FRAME, min_size=100, max_size=100))
    def batch(frames):
        for frame in frames:
            hub.send_raw('bot-fuzz', frame)
            command_id = readable_id(frame)
            totals['frames'] += 1
            if command_id is not None:
                totals['with_id'] += 1
                expected[command_id] = expected.get(command_id, 0) + 1

        def missing():
            counts = hub.answer_counts('bot-fuzz')
            return {k: (v, counts.get(k, 0)) for k, v in expected.items() if counts.get(k, 0) < v}
        wait_for(lambda: not missing(), 60, 'answers to the batch', missing)
        rss.append(rss_mb(bridge))

    batch()
    counts = hub.answer_counts('bot-fuzz')
    assert {k: counts.get(k, 0) for k in expected} == expected
    assert len(hub.events('connect', agent_id='bot-fuzz')) == 1 and bridge.alive()
    assert not hub.events('zombie', agent_id='bot-fuzz')
    print(f'\nfault: frames fuzzed {totals["frames"]}, with a command_id {totals["with_id"]} '
          f'(all answered), RSS after 10 batches {rss[9]:.1f} MB, at the end {rss[-1]:.1f} MB')
    assert totals['frames'] == 10_000
    assert rss[-1] - rss[9] < 15.0


def test_oversized_frame_is_refused_without_killing_the_bridge(hub, start_bridge):
    bridge = start_bridge({'hub_url': hub.url, 'agent_id': 'bot-big',
                           'max_message_size': 4096})
    hub.wait_connected('bot-big')
    hub.send_command('bot-big', {'command_id': 'too-big', 'action': 'ping',
                                 'parameters': {'pad': 'x' * 8192}})
    disconnect = wait_for(lambda: hub.events('disconnect', agent_id='bot-big'), 10,
                          'the refusal')
    assert disconnect[0]['close_code'] == 1009
    hub.wait_connected('bot-big', count=2)
    hub.send_command('bot-big', {'command_id': 'small', 'action': 'ping'})
    wait_for(lambda: 'small' in hub.answer_counts('bot-big'), 10, 'the next answer')
    assert bridge.alive()


def test_target_that_crashes_mid_call_is_answered_false(hub, start_bridge):
    target = TriggerTarget(f'{NS}/crash', delay=30.0)
    try:
        start_bridge({'hub_url': hub.url, 'agent_id': 'bot-crash', 'commands': ['work'],
                      'work.service': f'{NS}/crash', 'work.type': 'std_srvs/srv/Trigger',
                      'work.timeout': 3.0})
        hub.wait_connected('bot-crash')
        sent = []

        def reached() -> bool:
            """Send a command, and another each time one is refused before discovery ends."""
            if target.calls:
                return True
            if not sent or sent[-1] in hub.answer_counts('bot-crash'):
                if sent:  # on a loaded machine discovery may take longer than the timeout
                    assert 'is not available' in \
                        hub.answers('bot-crash', sent[-1])[0]['data']['message']
                sent.append(f'doomed-{len(sent)}')
                hub.send_command('bot-crash', {'command_id': sent[-1], 'action': 'work'})
            return False
        wait_for(reached, 30, 'the call to reach the target', lambda: sent)
        assert target.calls == 1
        target.process.send_signal(signal.SIGKILL)
        wait_for(lambda: sent[-1] in hub.answer_counts('bot-crash'), 10, 'the answer')
        reply = hub.answers('bot-crash', sent[-1])[0]
        assert reply['success'] is False and 'did not answer' in reply['data']['message']
    finally:
        target.kill()
