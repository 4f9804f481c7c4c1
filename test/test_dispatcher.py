"""Dispatcher and ledger without ROS: one response per command id, whatever happens."""

import asyncio
import json
import logging

from artbot_bridge.core.dispatcher import CommandError, Dispatcher
from artbot_bridge.core.ledger import CommandLedger
from artbot_bridge.core.protocol import parse_command, ProtocolError
from artbot_bridge.core.ratelimit import RateLimiter
import pytest


def command(action, command_id, kind='robot_command', **parameters):
    return parse_command(json.dumps({'command_id': command_id, 'action': action, 'type': kind,
                                     'parameters': parameters}))


def run(scenario, **limits):
    sent = []

    async def main():
        gate = asyncio.Event()

        async def slow(cmd):
            await gate.wait()
            return True, {'message': 'slow done'}

        async def boom(cmd):
            raise RuntimeError('target crashed')

        async def refuse(cmd):
            raise CommandError('no battery', field='battery')

        async def quick(cmd):
            return True, {'message': 'ok'}

        async def big(cmd):
            return True, {'message': 'big', 'result': 'x' * 5000}

        handlers = {'slow': slow, 'hold': slow, 'boom': boom, 'refuse': refuse,
                    'quick': quick, 'reboot': quick, 'big': big}
        dispatcher = Dispatcher('bot', handlers, sent.append, logging.getLogger('test'),
                                exclusive=['slow'], system=['reboot'], **limits)
        await scenario(dispatcher, gate)
        await dispatcher.drain(1.0)
    asyncio.run(main())
    return [json.loads(frame) for frame in sent]


def test_repeats_while_running_and_after_are_answered_identically_and_run_once():
    async def scenario(dispatcher, gate):
        dispatcher.on_command(command('slow', 'a'))
        dispatcher.on_command(command('slow', 'a'))
        await asyncio.sleep(0)
        gate.set()
        await asyncio.sleep(0.05)
        dispatcher.on_command(command('slow', 'a'))
    answers = run(scenario)
    assert len(answers) == 3 and all(a == answers[0] for a in answers)
    assert answers[0]['success'] is True and answers[0]['command_id'] == 'a'


def test_every_failure_becomes_one_answer():
    async def scenario(dispatcher, gate):
        dispatcher.on_command(command('boom', 'b1'))
        dispatcher.on_command(command('refuse', 'b2'))
        dispatcher.on_command(command('nope', 'b3'))
        dispatcher.on_command(command('quick', 'b4', kind='system_command'))
        dispatcher.on_command(command('reboot', 'b5', kind='system_command'))
        dispatcher.on_command(ProtocolError("invalid command field 'action'", 'b6'))
        await asyncio.sleep(0.05)
    answers = {a['command_id']: a for a in run(scenario)}
    assert 'RuntimeError: target crashed' in answers['b1']['data']['message']
    assert answers['b2']['data'] == {'message': 'no battery', 'field': 'battery'}
    allowed = 'allowed: big, boom, hold, quick, reboot, refuse, slow'
    assert allowed in answers['b3']['data']['message']
    assert 'not enabled' in answers['b4']['data']['message']
    assert answers['b5']['success'] is True
    assert "'action'" in answers['b6']['data']['message']
    assert [a['success'] for k, a in sorted(answers.items()) if k != 'b5'] == [False] * 5


def test_exclusive_command_refuses_company_and_shutdown_still_answers():
    async def scenario(dispatcher, gate):
        dispatcher.on_command(command('slow', 'c1'))
        dispatcher.on_command(command('quick', 'c2'))
        await asyncio.sleep(0.01)
    answers = {a['command_id']: a for a in run(scenario)}
    assert 'busy: slow running' in answers['c2']['data']['message']
    assert answers['c1']['success'] is False and 'shutting down' in \
        answers['c1']['data']['message']


def test_ledger_is_bounded_but_never_forgets_a_running_command():
    ledger = CommandLedger(size=2)
    assert ledger.begin('x') == (True, None)
    for cid in 'abc':
        ledger.begin(cid)
        ledger.finish(cid, f'frame-{cid}')
    assert ledger.begin('a') == (True, None)  # forgotten: only the last two are kept
    assert ledger.begin('c') == (False, 'frame-c')
    assert ledger.begin('x') == (False, None) and ledger.finish('x', 'fx') == 2


@pytest.mark.parametrize('elapsed,allowed', [(0.0, 2), (1.0, 3)])
def test_rate_limiter(elapsed, allowed):
    now = [0.0]
    limiter = RateLimiter(rate=1.0, burst=2.0, clock=lambda: now[0])
    got = sum(limiter.allow() for _ in range(2))
    now[0] += elapsed
    got += sum(limiter.allow() for _ in range(2))
    assert got == allowed and limiter.refused == 4 - allowed


def test_limits_rate_concurrency_and_response_size():
    async def scenario(dispatcher, gate):
        for i in range(3):
            dispatcher.on_command(command('hold', f'h{i}'))
        gate.set()
        await asyncio.sleep(0.01)
        dispatcher.on_command(command('big', 'b'))
        dispatcher.on_command(command('big', 'over-rate'))
        await asyncio.sleep(0.01)
    replies = run(scenario, per_minute=4, max_running=2, max_bytes=2048)
    answers = {a['command_id']: a for a in replies}
    assert 'too many commands running (2)' in answers['h2']['data']['message']
    assert answers['b']['data']['truncated'] is True
    assert len(json.dumps(answers['b'], separators=(',', ':'))) <= 2048
    assert 'rate limit' in answers['over-rate']['data']['message']
    assert answers['h0']['success'] and answers['h1']['success']


def test_ledger_keeps_its_memory_within_the_byte_budget():
    ledger = CommandLedger(size=100, max_bytes=1000)
    for i in range(5):
        ledger.begin(f'big{i}')
        ledger.finish(f'big{i}', 'x' * 600, stub=f'stub{i}')
    assert ledger.begin('big0') == (False, 'stub0')  # never run again, answered briefly
    assert ledger.begin('big4') == (False, 'x' * 600)  # the newest is kept whole
