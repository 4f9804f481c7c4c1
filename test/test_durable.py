"""Durable delivery: the outbox file survives SIGKILL; answered commands are not run again."""

import os
import re
import signal
import sqlite3

from harness import wait_for
from test_fault import TargetProcess

NS = f'/durabletest_{os.getpid()}'


def spooled(path, command_id):
    """Return whether a response for `command_id` is committed in the outbox file."""
    try:
        with sqlite3.connect(f'file:{path}?mode=ro', uri=True) as db:
            rows = db.execute("SELECT frame FROM frames WHERE queue = 'responses'").fetchall()
    except sqlite3.Error:
        return False
    return any(f'"command_id":"{command_id}"' in frame for frame, in rows)


def test_response_queued_at_a_crash_is_delivered_once_after_restart(hub, start_bridge,
                                                                    tmp_path):
    target = TargetProcess(f'{NS}/slow', delay=1.5)
    try:
        params = {'hub_url': hub.url, 'agent_id': 'bot-durable',
                  'outbox_path': str(tmp_path / 'outbox.sqlite'), 'commands': ['slow'],
                  'slow.service': f'{NS}/slow', 'slow.type': 'std_srvs/srv/Trigger'}
        first = start_bridge(params)
        hub.wait_connected('bot-durable')
        hub.send_command('bot-durable', {'command_id': 'kept', 'action': 'slow'})
        wait_for(lambda: target.calls == 1, 15, 'the call')
        hub.stop()  # the answer is produced while the link is down
        wait_for(lambda: 'retrying in' in first.output(), 15, 'the bridge to notice')
        wait_for(lambda: spooled(tmp_path / 'outbox.sqlite', 'kept'), 15,
                 'the answer written to the outbox file')
        first.signal(signal.SIGKILL)
        first.wait(10)
        second = start_bridge(params)
        reload = wait_for(
            lambda: re.search(r'(\d+) frames to deliver, 1 answered', second.output()), 20,
            'the reload', second.output)
        assert int(reload.group(1)) >= 1
        hub.start()
        wait_for(lambda: 'kept' in hub.answer_counts('bot-durable'), 20, 'the answer')
        # The hub resends after the reconnect: answered from the file, not run again.
        hub.send_command('bot-durable', {'command_id': 'kept', 'action': 'slow'})
        wait_for(lambda: hub.answer_counts('bot-durable')['kept'] == 2, 15, 'the repeat')
        replies = [m for m in hub.messages('bot-durable', 'command_response')
                   if m['command_id'] == 'kept']
        assert replies[0] == replies[1] and replies[0]['success'] is True
        assert target.calls == 1
    finally:
        target.kill()
