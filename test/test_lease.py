"""Motion leases and command deadlines on a real topic, with the bridge as a process."""

import json
import time
from urllib.request import Request, urlopen
import uuid

from harness import wait_for
from test_ros_side import call

TOPIC = '/lease_test/cmd_vel'
DRIVE = {'commands': ['drive'], 'drive.topic': TOPIC, 'drive.type': 'geometry_msgs/msg/Twist',
         'drive.arguments': ['speed=linear.x'], 'drive.concurrent': True}


def post_command(hub, agent_id, action, parameters, delay=0.0):
    """Send a command through the local hub's HTTP API, as an operator does; return its id."""
    body = json.dumps({'action': action, 'parameters': parameters}).encode()
    request = Request(f'{hub.url}/api/robots/{agent_id}/command?delay={delay}', body,
                      {'Content-Type': 'application/json'})
    with urlopen(request, timeout=5) as answer:
        return json.loads(answer.read())['command_id']


def answer(hub, agent_id, command_id, timeout=10.0):
    def found():
        return next((m for m in hub.messages(agent_id, 'command_response')
                     if m.get('command_id') == command_id), None)
    wait_for(found, timeout, f'the answer to {command_id}')
    return found()


def stops(twists):
    return [t for t in twists if (t.linear.x, t.angular.z) == (0.0, 0.0)]


def discovered(ros):
    wait_for(lambda: ros.node.count_publishers(TOPIC) > 0, 10,
             'the bridge and the test discovering each other')


def drive_until_seen(hub, agent_id, twists):
    """Drive until a message arrives: the first may go out before the publisher matched."""
    def seen():
        command_id = post_command(hub, agent_id, 'drive', {'speed': 0.3})
        assert answer(hub, agent_id, command_id)['success']
        time.sleep(0.3)
        return twists
    wait_for(seen, 10, 'a drive message')


def test_a_lease_that_runs_out_stops_once_and_renewals_keep_it(hub, start_bridge, ros):
    from geometry_msgs.msg import Twist
    twists = ros.collect(Twist, TOPIC)
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-lease', **DRIVE, 'drive.lease': 0.6})
    hub.wait_connected('bot-lease')
    discovered(ros)
    sent = [post_command(hub, 'bot-lease', 'drive', {'speed': 0.3})]
    for _ in range(8):  # renewed every 0.2 s for 1.6 s: the lease never runs out
        time.sleep(0.2)
        sent.append(post_command(hub, 'bot-lease', 'drive', {'speed': 0.3}))
        assert stops(twists) == [], 'no stop while commands renew the lease'
    renewed = time.monotonic()
    answers = [answer(hub, 'bot-lease', command_id) for command_id in sent]
    assert all(a['success'] for a in answers), answers
    assert answers[0]['data']['result']['lease'] == 0.6
    wait_for(lambda: stops(twists), 5, 'the stop after the lease ran out')
    stopped = time.monotonic()
    assert stopped - renewed >= 0.5, 'not before the lease ran out'
    time.sleep(1.5)
    assert len(stops(twists)) == 1, 'one stop, once'
    assert len(twists) - 1 <= len(sent)  # the first may go before the match: never more
    lines = [m['data']['message'] for m in hub.messages('bot-lease', 'log_entry')]
    assert any('lease ran out' in line for line in lines), lines
    from std_srvs.srv import Trigger
    status = json.loads(call(ros, Trigger, '/artbot_bridge/get_status',
                             Trigger.Request()).message)
    assert status['lease_stops'] == 1
    assert abs(status['clock_offset_s']) < 2.0 and status['clock_uncertainty_s'] < 1.0


def test_a_lease_ends_at_link_loss_with_one_stop_beside_the_safety_stop(hub, start_bridge, ros):
    from geometry_msgs.msg import Twist
    twists = ros.collect(Twist, TOPIC)
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-cut', **DRIVE, 'drive.lease': 30.0,
                  'safety_grace': 1.0, 'safety_stop_topic': TOPIC})
    hub.wait_connected('bot-cut')
    discovered(ros)
    drive_until_seen(hub, 'bot-cut', twists)
    hub.stop()
    cut = time.monotonic()
    wait_for(lambda: stops(twists), 5, 'the stop at link loss')
    assert time.monotonic() - cut < 1.0, 'at link loss, not at the end of the lease'
    time.sleep(2.5)  # the safety stop's grace has passed: it sends no second stop
    assert len(stops(twists)) == 1, [(t.linear.x, t.angular.z) for t in twists]
    hub.start()
    hub.wait_connected('bot-cut', count=2)
    wait_for(lambda: any('already got its stop' in m['data']['message']
                         for m in hub.messages('bot-cut', 'log_entry')), 10,
             'the safety stop reporting that the lease had stopped the topic')
    assert len(stops(twists)) == 1


def test_a_command_stamped_long_ago_is_answered_expired_and_not_published(hub, start_bridge,
                                                                          ros):
    from geometry_msgs.msg import Twist
    twists = ros.collect(Twist, TOPIC)
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-late', **DRIVE, 'drive.max_age': 2.0})
    hub.wait_connected('bot-late')
    discovered(ros)
    drive_until_seen(hub, 'bot-late', twists)  # matched: nothing published is lost from here
    late = answer(hub, 'bot-late', post_command(hub, 'bot-late', 'drive', {'speed': 0.5},
                                                delay=30.0))
    assert late['success'] is False
    assert late['data']['reason'] == 'expired' and late['data']['max_age'] == 2.0
    assert 29.0 < late['data']['age'] < 31.5, late
    time.sleep(0.5)
    assert {t.linear.x for t in twists} == {0.3}, 'the expired command was never published'
    unknown = str(uuid.uuid4())  # a status query is not bounded: it runs whatever its age
    hub.send_command('bot-late', {'command_id': unknown, 'action': 'ping',
                                  'timestamp': '2020-01-01T00:00:00'})
    assert answer(hub, 'bot-late', unknown)['success'] is True
