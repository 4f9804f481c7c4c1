"""Log forwarding: the rate limit and the recent lines belong to the hub link's loop."""

from artbot_bridge.core.logbook import LogBook, MAX_LOG_CHARS
from artbot_bridge.ros.logs import LogForwarder
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


class Agent:
    """Stands in for HubAgent's log face: each line handed to the loop's log book."""

    def __init__(self, loop, sent, rate):
        self.loop = loop
        self.book = LogBook(lambda **entry: sent.append(entry), rate)

    def log(self, level, message, **extra):
        self.loop.call_soon(self.book.take, level, message, extra, True)

    def report(self, level, message, **extra):
        self.loop.call_soon(self.book.take, level, message, extra, False)


def forwarder(loop, sent, rate=2.0, level='info'):
    agent = Agent(loop, sent, rate)
    return agent, LogForwarder(agent.log, level, 'artbot_bridge')


def test_lines_are_limited_and_kept_on_the_loop_only():
    loop, sent = Loop(), []
    agent, _ = forwarder(loop, sent)
    logs = agent.book
    for n in range(10):
        agent.log('info', f'line {n}')
    assert logs.refused == 0 and logs.recent(10) == [] and sent == []  # nothing touched yet
    loop.run()
    assert len(sent) == 4 and logs.refused == 6  # a burst of twice the rate
    assert [e['message'] for e in logs.recent(2)] == ['line 2', 'line 3']


def test_reports_are_never_refused_and_long_lines_are_cut():
    loop, sent = Loop(), []
    agent, _ = forwarder(loop, sent, rate=0.5)
    for _ in range(5):
        agent.report('warn', 'x' * (MAX_LOG_CHARS + 10), source='safety')
    loop.run()
    assert len(sent) == 5 and agent.book.refused == 0
    assert sent[0]['message'].endswith(f'... ({MAX_LOG_CHARS + 10} characters)')
    assert sent[0]['source'] == 'safety' and sent[0]['timestamp']


def test_events_carry_a_level_and_rosout_skips_low_levels_and_the_bridge():
    loop, sent = Loop(), []
    _, logs = forwarder(loop, sent, rate=100.0, level='warn')
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
