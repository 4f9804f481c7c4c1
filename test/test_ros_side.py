"""The bridge's own ROS interface: ~/commands, ~/events, /rosout forwarding, its services."""

import json
import time
import uuid

from harness import wait_for


def call(ros, srv_type, name, request, timeout=10.0):
    client = ros.node.create_client(srv_type, name)
    assert client.wait_for_service(timeout_sec=timeout), f'{name} not available'
    future = client.call_async(request)
    wait_for(future.done, timeout, f'the answer of {name}')
    return future.result()


def test_commands_echo_events_and_rosout_reach_the_hub(hub, start_bridge, ros):
    from rcl_interfaces.msg import Log
    from std_msgs.msg import String
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-ros', 'hub_log_level': 'error'})
    hub.wait_connected('bot-ros')
    echoed = ros.collect(String, '/artbot_bridge/commands')
    events = ros.node.create_publisher(String, '/artbot_bridge/events', 10)
    rosout = ros.node.create_publisher(Log, '/rosout', 10)
    command_id = str(uuid.uuid4())

    def logs():
        return [m['data'] for m in hub.messages('bot-ros', 'log_entry')]

    def everything_arrived():
        # Each kind again only until it arrived: the log rate limit (a burst of 10, then 5/s)
        # is not spent on one kind while the other's publisher is still being discovered.
        seen = {entry.get('source') for entry in logs()}
        if not echoed:
            hub.send_command('bot-ros', {'command_id': command_id, 'action': 'ping'})
        if 'events' not in seen:
            events.publish(String(data='workspace started by the operator'))
            events.publish(String(data=json.dumps({'level': 'error', 'message': 'arm jammed'})))
        if 'rosout' not in seen:
            rosout.publish(Log(level=Log.ERROR, name='motor_driver', msg='overcurrent on left'))
            rosout.publish(Log(level=Log.INFO, name='chatty', msg='below the threshold'))
        return echoed and {'events', 'rosout'} <= seen

    wait_for(everything_arrived, 15, 'the echo and both kinds of log lines', logs)
    assert any(json.loads(m.data).get('command_id') == command_id for m in echoed)
    assert any(e['message'] == 'workspace started by the operator' and e['level'] == 'INFO'
               for e in logs())
    wait_for(lambda: any(e['message'] == 'arm jammed' and e['level'] == 'ERROR'
                         for e in logs()), 5, 'an event with its own level', logs)
    errors = [e for e in logs() if e.get('source') == 'rosout']
    assert {e['details']['logger'] for e in errors} == {'motor_driver'}
    assert errors[0]['level'] == 'ERROR' and errors[0]['timestamp']  # as the hub files them


def test_get_status_set_telemetry_and_reconnect_services(hub, start_bridge, ros):
    from std_srvs.srv import SetBool, Trigger
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-srv', 'heartbeat_interval': 0.5,
                  'reconnect_initial_delay': 3.0, 'reconnect_max_delay': 5.0})
    hub.wait_connected('bot-srv')
    status = call(ros, Trigger, '/artbot_bridge/get_status', Trigger.Request())
    snapshot = json.loads(status.message)
    assert status.success and snapshot['link']['state'] == 'connected'
    assert 'robot_status' in snapshot

    paused = call(ros, SetBool, '/artbot_bridge/set_telemetry', SetBool.Request(data=False))
    assert paused.success and paused.message == 'telemetry paused'
    answered = call(ros, Trigger, '/artbot_bridge/get_status', Trigger.Request())
    assert json.loads(answered.message)['link']['telemetry'] is False
    settled = len(hub.messages('bot-srv', 'heartbeat'))
    time.sleep(2.0)  # an absence needs a window: four heartbeat intervals
    assert len(hub.messages('bot-srv', 'heartbeat')) <= settled + 1
    call(ros, SetBool, '/artbot_bridge/set_telemetry', SetBool.Request(data=True))
    wait_for(lambda: len(hub.messages('bot-srv', 'heartbeat')) > settled + 1, 10,
             'heartbeats again')

    reconnect = call(ros, Trigger, '/artbot_bridge/reconnect', Trigger.Request())
    assert reconnect.success
    again = hub.wait_connected('bot-srv', count=2)
    assert len(hub.events('register', agent_id='bot-srv')) == 2
    dropped = hub.events('disconnect', agent_id='bot-srv')[0]
    assert again['t'] - dropped['t'] < 1.0  # at once, not after the 3 s retry delay
    link = json.loads(call(ros, Trigger, '/artbot_bridge/get_status',
                           Trigger.Request()).message)['link']
    assert 'closed by hub' not in link['last_error'], link


def test_every_frame_the_hub_gets_is_on_ros_as_sent(hub, start_bridge, ros):
    from std_msgs.msg import String
    shown = {kind: ros.collect(String, f'/artbot_bridge/{topic}', 50)
             for kind, topic in (('heartbeat', 'heartbeat'), ('robot_status', 'robot_status'),
                                 ('command_response', 'command_responses'))}
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-frames', 'heartbeat_interval': 0.5,
                  'monitor_interval': 0.5})
    hub.wait_connected('bot-frames')
    wait_for(lambda: all(ros.node.count_publishers(f'/artbot_bridge/{t}') for t in
                         ('heartbeat', 'robot_status', 'command_responses')), 10, 'publishers')
    command_id = str(uuid.uuid4())

    def all_shown():
        if not shown['command_response']:
            hub.send_command('bot-frames', {'command_id': command_id, 'action': 'ping'})
        return all(shown.values()) and len(shown['heartbeat']) >= 2
    wait_for(all_shown, 15, 'frames on the three topics',
             lambda: {kind: len(frames) for kind, frames in shown.items()})
    for kind, received in shown.items():
        sent = [json.dumps(m, separators=(',', ':')) for m in hub.messages('bot-frames', kind)]
        frames = [m.data for m in received]
        assert set(frames) & set(sent), kind  # the very text the hub received
        assert all(json.loads(frame)['type'] == kind for frame in frames)
