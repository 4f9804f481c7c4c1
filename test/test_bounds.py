"""
Bounds that hold on a healthy link: a burst of large answers is answered in full.

The bridge reads a command only while its answer, at its largest (`max_response_bytes`),
fits in the byte budget beside the answers of the commands already running and the frames
sent and not proven yet. So a burst waits in the socket instead of losing answers.
"""

import os
import uuid

from harness import TriggerTarget, wait_for
import psutil
import pytest

pytestmark = pytest.mark.fault
NS = f'/boundstest_{os.getpid()}'
ANSWER_CHARS = 480_000  # twice in the answer (its message and its result): about 1 MB


def test_a_burst_of_100_answers_of_about_1_mb_is_answered_in_full(hub, start_bridge):
    service = f'{NS}/large'
    target = TriggerTarget(service, chars=ANSWER_CHARS)
    try:
        bridge = start_bridge({
            'hub_url': hub.url, 'agent_id': 'bot-burst', 'commands': ['large'],
            'large.service': service, 'large.type': 'std_srvs/srv/Trigger',
            'large.concurrent': True, 'max_commands_per_minute': 1000,
            # The default keepalive: this test is about the budget, not about a slow link.
            'ping_interval': 20.0, 'ping_timeout': 20.0})
        hub.wait_connected('bot-burst', timeout=20)
        sent = [str(uuid.uuid4()) for _ in range(100)]
        for command_id in sent:
            hub.send_command('bot-burst', {'command_id': command_id, 'action': 'large'})
        process = psutil.Process(bridge.process.pid)
        peak = [0]

        def answered() -> bool:
            peak[0] = max(peak[0], process.memory_info().rss)
            return set(sent) <= set(hub.answer_counts('bot-burst'))
        wait_for(answered, 120, 'every answer',
                 lambda: (len(hub.answer_counts('bot-burst')), bridge.output()[-3000:]))
        answers = hub.messages('bot-burst', 'command_response')
        whole = [a for a in answers if a['success']
                 and len(a['data'].get('message', '')) == ANSWER_CHARS]
        assert {a['command_id'] for a in whole} == set(sent)
        assert target.calls == len(sent)
        assert bridge.alive()
        print(f'\nbounds: 100 answers of 1 MB in one burst: {len(whole)} whole, '
              f'{len(sent) - len(whole)} dropped; bridge RSS peak {peak[0] / 2 ** 20:.0f} MB')
    finally:
        target.kill()
