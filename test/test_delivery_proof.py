"""
An answer counts as delivered only when the hub's application has it; a dead link is noticed.

A proxy between the bridge and the local hub puts one frame of its own into the agent socket
(`devhub.killer`): a heartbeat with a null battery_level, on which the hub's reader dies, as
the real hub's does; its socket then reads 33 more frames, ponging, and nothing after. Every answer
must still reach the hub's application (the echo proof), and the dead reader be noticed
within about two robot_status intervals. A hub that stops reading altogether is cut by the
bridge's own watchdog, which the library's keepalive is not.
"""

import os
import time
import uuid

from artbot_bridge.devhub.killer import KillerProxy
from harness import FaultProxy, TriggerTarget, wait_for
import pytest
from test_bounds import ANSWER_CHARS

pytestmark = pytest.mark.fault
NS = f'/echotest_{os.getpid()}'
# Longer than the proxy holds the bridge's frames back (commands run meanwhile, 1-2 s), so
# that only the dead reader, not the hold, is what the bridge notices.
ECHO_TIMEOUT = 5.0


def answers_through_a_dead_reader(hub, start_bridge, agent: str, proof: str,
                                  commands: int = 20) -> dict:
    """Send commands, kill the reader while their answers go out; return what happened."""
    service = f"{NS}/count_{agent.replace('-', '_')}"
    target = TriggerTarget(service, delay=0.05)  # one call at a time: 1 s for all
    proxy = KillerProxy(hub.hub.port)
    hub.loop.run(proxy.start(), timeout=5)
    try:
        bridge = start_bridge({
            'hub_url': f'http://127.0.0.1:{proxy.port}', 'agent_id': agent,
            'delivery_proof': proof, 'echo_timeout': ECHO_TIMEOUT,
            # Room for all the answers at their largest: every command is read at once.
            'max_response_bytes': 65536,
            # The proxy holds back the bridge's pings too: the keepalive must outlast it.
            'ping_interval': 10.0, 'ping_timeout': 10.0,
            'commands': ['count'], 'count.service': service,
            'count.type': 'std_srvs/srv/Trigger', 'count.concurrent': True})
        hub.wait_connected(agent, timeout=20)
        wait_for(lambda: hub.messages(agent, 'robot_status'), 10, 'the first robot_status')
        sent = [str(uuid.uuid4()) for _ in range(commands)]
        hub.loop.call_soon(proxy.hold)  # what the bridge sends from now on waits
        for command_id in sent:
            hub.send_command(agent, {'command_id': command_id, 'action': 'count'})
        wait_for(lambda: target.calls == commands, 20, 'every command run')
        time.sleep(0.5)  # their answers are sent, and kept back by the proxy
        held = hub.loop.ask(proxy.release)  # the frame that kills, then the answers
        zombie = wait_for(lambda: hub.events('zombie', agent_id=agent), 10, 'the zombie')[0]
        assert held > 0
        if proof == 'echo':
            wait_for(lambda: set(sent) <= set(hub.answer_counts(agent)), 30,
                     'every answer handled by the hub', lambda: len(hub.answer_counts(agent)))
            again = hub.wait_connected(agent, count=2, timeout=5)
        else:  # the pong proof takes the library's pongs for the application's reading
            wait_for(lambda: hub.events('stopped_reading', agent_id=agent), 15, 'the stop')
            again = None
        return {'sent': sent, 'handled': hub.answer_counts(agent), 'zombie': zombie,
                'again': again, 'calls': target.calls, 'bridge': bridge}
    finally:
        target.kill()
        hub.loop.run(proxy.close(), timeout=5)


def test_answers_sent_to_a_dead_reader_reach_the_hub_after_the_redial(hub, start_bridge):
    seen = answers_through_a_dead_reader(hub, start_bridge, 'bot-echo', 'echo')
    lost = set(seen['sent']) - set(seen['handled'])
    noticed = seen['again']['t'] - seen['zombie']['t']
    assert not lost
    assert seen['calls'] == len(seen['sent'])  # each ran once
    # FAST: robot_status every 0.5 s; the redial waits the first backoff step (0.2 s) and
    # a registration.
    assert 0 < noticed < 0.5 + ECHO_TIMEOUT + 2.0, noticed
    assert "the hub's reader handled nothing" in seen['bridge'].output()
    print(f'\necho proof: dead reader noticed and redialled in {noticed:.1f} s; '
          f'{len(seen["sent"])} answers, lost {len(lost)}, '
          f'sent twice {sum(seen["handled"].values()) - len(seen["handled"])}')


def test_the_pong_proof_alone_loses_answers_to_a_dead_reader(hub, start_bridge):
    """What the echo proof is for: the library's pongs retire answers the hub never had."""
    seen = answers_through_a_dead_reader(hub, start_bridge, 'bot-pong', 'pong')
    lost = set(seen['sent']) - set(seen['handled'])
    assert lost
    print(f'\npong proof: {len(lost)} of {len(seen["sent"])} answers never reached the '
          f"hub's application")


def test_a_stalled_hub_with_full_buffers_is_cut_within_ping_timeout(hub, start_bridge):
    """
    The hub stops reading; answers fill every buffer; the library's keepalive waits for them.

    websockets' keepalive ping waits for the send buffer to drain before its timeout starts,
    so only the bridge's own watchdog ends this link: no write progress for `ping_timeout`.
    Pong proof and a 60 s keepalive, so that nothing else can, and a 64 MiB budget, so that
    more is written than the kernel's buffers on both sides take.
    """
    proxy = FaultProxy(hub.loop, hub.hub.port)
    service = f'{NS}/large_full'
    target = TriggerTarget(service, chars=ANSWER_CHARS)
    try:
        bridge = start_bridge({
            'hub_url': f'http://127.0.0.1:{proxy.port}', 'agent_id': 'bot-full',
            'delivery_proof': 'pong', 'ping_interval': 60.0, 'ping_timeout': 3.0,
            'max_commands_per_minute': 100000, 'max_queued_bytes': 2 ** 26,
            'commands': ['large'],
            'large.service': service, 'large.type': 'std_srvs/srv/Trigger',
            'large.concurrent': True})
        hub.wait_connected('bot-full', timeout=20)
        proxy.stalled = True
        stalled = time.monotonic()
        cut = None
        for n in range(400):  # ~1 MB answers each: the buffers are full within seconds
            hub.send_command('bot-full', {'command_id': f'full-{n}', 'action': 'large'})
            if 'have not left the send buffer' in bridge.output():
                cut = time.monotonic() - stalled
                break
            time.sleep(0.05)
        assert cut is not None, bridge.output()[-2000:]
        proxy.stalled = False
        hub.wait_connected('bot-full', count=2, timeout=30)
        print(f'\nstall: a hub that stopped reading was cut {cut:.1f} s after the stall '
              f'began (ping_timeout 3 s, keepalive every 60 s)')
        assert cut < 3.0 + 10.0
    finally:
        proxy.close()
        target.kill()
