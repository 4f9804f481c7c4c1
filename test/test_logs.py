"""Log forwarding: the rate limit and the recent lines belong to the hub link's loop."""

from artbot_bridge.ros.logs import LogForwarder, MAX_LOG_CHARS
from rcl_interfaces.msg import Log
from std_msgs.msg import String


class Loop:
    """Stands in for LoopThread.call_soon: keeps the calls until `run()`."""

    def __init__(self):
        self.calls = []

    def call_soon(self, func, *args):
        self.calls.append((func, args))
        return True

    def run(self):
        calls, self.calls = self.calls, []
        for func, args in calls:
            func(*args)


def forwarder(loop, sent, rate=2.0, level='info'):
    return LogForwarder(loop.call_soon, lambda **entry: sent.append(entry), rate, level,
                        'artbot_bridge')


def test_lines_are_limited_and_kept_on_the_loop_only():
    loop, sent = Loop(), []
    logs = forwarder(loop, sent)
    for n in range(10):
        logs.forward('info', f'line {n}')
    assert logs.refused == 0 and logs.recent(10) == [] and sent == []  # nothing touched yet
    loop.run()
    assert len(sent) == 4 and logs.refused == 6  # a burst of twice the rate
    assert [e['message'] for e in logs.recent(2)] == ['line 2', 'line 3']


def test_reports_are_never_refused_and_long_lines_are_cut():
    loop, sent = Loop(), []
    logs = forwarder(loop, sent, rate=0.5)
    for _ in range(5):
        logs.report('warn', 'x' * (MAX_LOG_CHARS + 10), source='safety')
    loop.run()
    assert len(sent) == 5 and logs.refused == 0
    assert sent[0]['message'].endswith(f'... ({MAX_LOG_CHARS + 10} characters)')
    assert sent[0]['source'] == 'safety' and sent[0]['timestamp']


def test_events_carry_a_level_and_rosout_skips_low_levels_and_the_bridge():
    loop, sent = Loop(), []
    logs = forwarder(loop, sent, rate=100.0, level='warn')
    logs.on_event(String(data='{"level": "error", "message": "arm jammed"}'))
    logs.on_event(String(data='{"level": "loud", "message": "odd level"}'))
    logs.on_event(String(data='{not json'))
    logs.on_rosout(Log(level=Log.INFO, name='motor', msg='quiet'))
    logs.on_rosout(Log(level=Log.ERROR, name='motor', msg='hot'))
    logs.on_rosout(Log(level=Log.ERROR, name='artbot_bridge', msg='own line'))
    loop.run()
    assert [(e['level'], e['message']) for e in sent] == [
        ('error', 'arm jammed'), ('info', 'odd level'), ('info', '{not json'), ('error', 'hot')]
    assert sent[-1]['logger'] == 'motor' and sent[-1]['source'] == 'rosout'
