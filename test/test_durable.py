"""Durable delivery: the outbox file survives SIGKILL; answered commands are not run again."""

import json
import os
import re
import signal
import sqlite3
from urllib.request import Request, urlopen

from harness import TriggerTarget, wait_for

NS = f'/durabletest_{os.getpid()}'


def spooled(path, command_id):
    """Return whether a response for `command_id` is committed in the outbox file."""
    try:
        with sqlite3.connect(f'file:{path}?mode=ro', uri=True) as db:
            rows = db.execute("SELECT frame FROM frames WHERE queue = 'responses'").fetchall()
    except sqlite3.Error:
        return False
    return any(f'"command_id":"{command_id}"' in frame for frame, in rows)


def post_command(hub, agent_id, action, command_id):
    """Send a command with a chosen id through the local hub's REST API (a resending hub)."""
    body = json.dumps({'action': action, 'parameters': {}, 'command_id': command_id})
    request = Request(f'{hub.url}/api/robots/{agent_id}/command', data=body.encode(),
                      method='POST', headers={'Content-Type': 'application/json'})
    with urlopen(request, timeout=5) as reply:
        assert reply.status == 200 and json.load(reply)['command_id'] == command_id


def started_rows(path):
    """Return the command ids committed to the outbox file as started and not yet answered."""
    with sqlite3.connect(f'file:{path}?mode=ro', uri=True) as db:
        return [cid for cid, in db.execute("SELECT command_id FROM answered WHERE frame = ''")]


def test_response_queued_at_a_crash_is_delivered_once_after_restart(hub, start_bridge,
                                                                    tmp_path):
    target = TriggerTarget(f'{NS}/slow', delay=1.5)
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


def test_command_killed_mid_run_is_answered_interrupted_after_restart_and_never_rerun(
        hub, start_bridge, tmp_path):
    outbox = tmp_path / 'outbox.sqlite'
    target = TriggerTarget(f'{NS}/long', delay=3.0)
    try:
        params = {'hub_url': hub.url, 'agent_id': 'bot-killed', 'outbox_path': str(outbox),
                  'commands': ['long'], 'long.service': f'{NS}/long',
                  'long.type': 'std_srvs/srv/Trigger'}
        first = start_bridge(params)
        hub.wait_connected('bot-killed')
        post_command(hub, 'bot-killed', 'long', 'mid-run')
        wait_for(lambda: target.calls == 1, 15, 'the call')
        assert started_rows(outbox) == ['mid-run']  # durable before the target was called
        first.signal(signal.SIGKILL)
        first.wait(10)
        second = start_bridge(params)
        hub.wait_connected('bot-killed', count=2, timeout=20)
        assert '1 interrupted by a restart' in second.output()
        post_command(hub, 'bot-killed', 'long', 'mid-run')
        wait_for(lambda: 'mid-run' in hub.answer_counts('bot-killed'), 15, 'the answer')
        reply, = [m for m in hub.messages('bot-killed', 'command_response')
                  if m['command_id'] == 'mid-run']
        assert reply['success'] is False
        assert reply['data']['message'] == 'interrupted by a restart; outcome unknown'
        # A fresh id runs: the target's next call is that one, and the interrupted id's none.
        post_command(hub, 'bot-killed', 'long', 'after')
        wait_for(lambda: 'after' in hub.answer_counts('bot-killed'), 20, 'the next answer')
        assert target.calls == 2
        wait_for(lambda: started_rows(outbox) == [], 5, 'every started row answered',
                 lambda: started_rows(outbox))
        post_command(hub, 'bot-killed', 'long', 'mid-run')  # answered from memory again
        wait_for(lambda: hub.answer_counts('bot-killed')['mid-run'] == 2, 15, 'the repeat')
        assert target.calls == 2
        print(f'\nkilled mid-command, restarted, repeated twice: mid-run ran '
              f'{target.calls - 1} time(s)')
    finally:
        target.kill()
