"""Link-loss safety stop: once per outage, after the grace period, and reported."""

import time

from harness import wait_for


def test_safety_stop_fires_once_per_outage_and_is_reported(hub, start_bridge, ros):
    from geometry_msgs.msg import Twist
    from std_srvs.srv import Trigger
    calls = []

    def stop(request, response):
        calls.append(time.monotonic())
        response.success, response.message = True, 'workspace stopped'
        return response
    ros.node.create_service(Trigger, '/safety_test/stop_workspace', stop)
    twists = ros.collect(Twist, '/safety_test/cmd_vel')
    start_bridge({'hub_url': hub.url, 'agent_id': 'bot-safe', 'safety_grace': 1.0,
                  'safety_stop_topic': '/safety_test/cmd_vel',
                  'safety_stop_service': '/safety_test/stop_workspace'})
    hub.wait_connected('bot-safe')
    wait_for(lambda: ros.node.count_publishers('/safety_test/cmd_vel') > 0, 10,
             'the bridge and the test discovering each other')

    def reports():
        return [m['data']['message'] for m in hub.messages('bot-safe', 'log_entry')
                if 'no hub link' in m['data']['message']]

    for outage in (1, 2):
        hub.stop()
        cut = time.monotonic()
        wait_for(lambda: len(calls) == outage and len(twists) == outage, 10,
                 f'safety stop #{outage}', lambda: (calls, twists))
        assert calls[-1] - cut >= 1.0  # not before the grace period
        twist = twists[-1]
        assert (twist.linear.x, twist.linear.y, twist.angular.z) == (0.0, 0.0, 0.0)
        time.sleep(1.5)  # the outage goes on: nothing fires again
        assert len(calls) == outage and len(twists) == outage
        hub.start()
        hub.wait_connected('bot-safe', count=outage + 1)
        # Reported once the link is back (a log line written as the hub closes may be lost,
        # so the next outage starts only after this one's report arrived).
        wait_for(lambda: len(reports()) == outage, 10, f'report #{outage} delivered', reports)


class _Node:
    """Just the node calls SafetyStop makes (a pure unit test: no ROS graph)."""

    def __init__(self, on_publish):
        self.on_publish = on_publish

    def create_publisher(self, msg_type, topic, depth):
        node = self

        class Publisher:
            topic_name = topic

            def publish(self, msg):
                node.on_publish()
        return Publisher()

    def create_timer(self, period, callback):
        self.check = callback

    def get_logger(self):
        import logging
        return logging.getLogger('safety-test')


def test_a_link_back_while_the_check_runs_never_disarms_the_next_outage(monkeypatch):
    import artbot_bridge.ros.safety as module
    from artbot_bridge.core.settings import build_settings
    settings = build_settings({'env_file': '', 'safety_grace': 0.05,
                               'safety_stop_topic': '/cmd_vel'}, [], {})
    node = _Node(lambda: None)
    safety = module.SafetyStop(node, settings, lambda *args, **kw: None)
    real = time.monotonic
    interleave = []

    class Clock:
        """time.monotonic, except that the link comes back at the check's clock reading."""

        @staticmethod
        def monotonic():
            if interleave:
                interleave.pop()
                safety.link(True)  # the hub link's thread, between the check's read and write
            return real()
    monkeypatch.setattr(module, 'time', Clock)
    safety.link(False)
    time.sleep(0.1)
    interleave.append(True)
    node.check()  # fires while the link returns
    assert safety.stops == 1
    safety.link(False)  # the next outage
    time.sleep(0.1)
    node.check()
    node.check()
    assert safety.stops == 2, 'the second outage must fire, once'
