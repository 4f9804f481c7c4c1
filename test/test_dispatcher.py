"""Dispatcher and ledger without ROS: one response per command id, whatever happens."""

import asyncio
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
import json
import logging
import sqlite3
import time

from artbot_bridge.core.clock import HubClock
from artbot_bridge.core.deadline import Deadline
from artbot_bridge.core.dispatcher import CommandError, Dispatcher
from artbot_bridge.core.ledger import CommandLedger
from artbot_bridge.core.protocol import parse_command, ProtocolError
from artbot_bridge.core.ratelimit import RateLimiter
from artbot_bridge.core.spool import Spool
from harness import ManualClock
import pytest


def command(action, command_id, kind='robot_command', timestamp=None, **parameters):
    return parse_command(json.dumps({'command_id': command_id, 'action': action, 'type': kind,
                                     'parameters': parameters, 'timestamp': timestamp}))


def hub_stamp(seconds_ago):
    """Return the stamp the real hub puts on a command sent `seconds_ago`: naive UTC."""
    moment = datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)
    return moment.replace(tzinfo=None).isoformat()


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
                    'quick': quick, 'reboot': quick, 'big': big, 'drive': quick}
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
    allowed = 'allowed: big, boom, drive, hold, quick, reboot, refuse, slow'
    assert allowed in answers['b3']['data']['message']
    assert 'not enabled' in answers['b4']['data']['message']
    assert answers['b5']['success'] is True
    assert "'action'" in answers['b6']['data']['message']
    assert [a['success'] for k, a in sorted(answers.items()) if k != 'b5'] == [False] * 5


def test_a_command_older_than_its_rows_max_age_is_answered_expired_and_never_run():
    hub_clock = HubClock()
    now = time.monotonic()
    hub_clock.registered(formatdate(usegmt=True), now - 0.01, now)
    ran = []

    async def scenario(dispatcher, gate):
        dispatcher.handlers['drive'] = record
        dispatcher.on_command(command('drive', 'late', timestamp=hub_stamp(30.0)))
        dispatcher.on_command(command('drive', 'fresh', timestamp=hub_stamp(0.0)))
        dispatcher.on_command(command('drive', 'unstamped'))
        dispatcher.on_command(command('quick', 'query', timestamp=hub_stamp(30.0)))
        await asyncio.sleep(0.05)
        dispatcher.on_command(command('drive', 'late', timestamp=hub_stamp(30.0)))
        await asyncio.sleep(0.01)
        assert dispatcher.expired == 1

    async def record(cmd):
        ran.append(cmd.command_id)
        return True, {'message': 'drove'}
    answers = run(scenario, hub_clock=hub_clock, deadlines={'drive': Deadline(1.0, False)})
    assert sorted(ran) == ['fresh', 'unstamped'], 'the late command never ran'
    late = [a for a in answers if a['command_id'] == 'late']
    assert len(late) == 2 and late[0] == late[1], 'a repeat gets the same answer'
    assert late[0]['success'] is False
    data = late[0]['data']
    assert data['reason'] == 'expired' and data['max_age'] == 1.0
    assert 28.5 < data['age'] < 31.5 and 'not run' in data['message']
    by_id = {a['command_id']: a for a in answers}
    assert by_id['query']['success'] is True, 'a row with no max_age runs whatever its age'
    assert hub_clock.unstamped == 1


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
    clock = ManualClock()
    ledger = CommandLedger(size=2, age=600, clock=clock)
    assert ledger.begin('x') == (True, None)
    for cid in 'abc':
        ledger.begin(cid)
        ledger.finish(cid, f'frame-{cid}')
        clock.now += 601
    assert ledger.begin('a') == (True, None)  # forgotten: old, and not in the last two
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


def test_a_flood_of_refusals_never_evicts_an_executed_id():
    runs, clock = [], ManualClock()

    async def scenario(dispatcher, gate):
        async def move(cmd):
            runs.append(cmd.command_id)
            return True, {'message': 'moved'}
        dispatcher.handlers['move'] = move
        dispatcher.on_command(command('move', 'executed'))
        await asyncio.sleep(0.01)
        for i in range(2100):  # unknown actions; past the first 599, over the rate limit too
            dispatcher.on_command(command('nope', f'refused-{i}'))
        clock.now += 0.3  # the rate limit lets more commands in
        dispatcher.on_command(command('move', 'executed'))
        await asyncio.sleep(0.01)
    answers = run(scenario, per_minute=600, clock=clock)
    assert runs == ['executed']
    replies = [a for a in answers if a['command_id'] == 'executed']
    assert len(replies) == 2 and replies[0] == replies[1] and replies[0]['success'] is True
    reasons = [a['data']['message'].split(':')[0] for a in answers if not a['success']]
    assert len(reasons) == 2100 and reasons.count('rate limit') >= 1400


def test_executed_ids_are_kept_by_count_or_by_age_and_refusals_apart():
    clock = ManualClock()
    ledger = CommandLedger(size=2, age=600, refusals=3, clock=clock)
    for i in range(5):
        ledger.begin(f'ran{i}')
        ledger.finish(f'ran{i}', f'answer{i}')
    for i in range(2100):
        ledger.begin(f'refused{i}')
        ledger.finish(f'refused{i}', 'unknown action', ran=False)
    clock.now += 599  # within the age: all five kept, past the count of two
    assert [ledger.begin(f'ran{i}') for i in range(5)] == [
        (False, f'answer{i}') for i in range(5)]
    assert ledger.begin('refused2099') == (False, 'unknown action')
    assert ledger.begin('refused2096') == (True, None)  # refusals: only the last three
    clock.now += 2
    ledger.begin('ran5')
    ledger.finish('ran5', 'answer5')  # the old ones past the count of two go now
    assert [ledger.begin(f'ran{i}')[0] for i in range(6)] == [True] * 4 + [False] * 2


def test_memory_under_a_flood_of_executed_commands_is_what_the_age_allows():
    clock = ManualClock()
    ledger = CommandLedger(size=100, age=600, clock=clock)
    for i in range(3000):  # one a second for 3,000 s
        ledger.begin(f'c{i}')
        ledger.finish(f'c{i}', 'answer')
        clock.now += 1
    kept = [i for i in range(3000) if not ledger.begin(f'c{i}')[0]]
    assert kept == list(range(3000 - 600, 3000))  # those of the last 600 s, no more


def test_with_the_outbox_file_a_command_runs_once_its_id_is_stored_as_started(tmp_path):
    path = tmp_path / 'outbox.sqlite'
    crashed = Spool(str(path))  # an earlier run, killed while 'crashed' ran
    crashed.load()
    crashed.started('crashed', lambda: None)
    crashed.close()  # its started row stays: the answer never came
    spool, stored, runs = Spool(str(path)), [], []

    async def scenario(dispatcher, gate):
        async def move(cmd):
            runs.append(cmd.command_id)
            with sqlite3.connect(f'file:{path}?mode=ro', uri=True) as db:
                stored.append(db.execute('SELECT frame FROM answered WHERE command_id = ?',
                                         (cmd.command_id,)).fetchall())
            return True, {'message': 'moved'}
        dispatcher.handlers['move'] = move
        assert dispatcher.recover(spool, spool.load()[1]) == 1
        for command_id in ('crashed', 'fresh', 'crashed'):
            dispatcher.on_command(command('move', command_id))
        for _ in range(500):  # until 'fresh' is answered, 5 s at most
            if not dispatcher.ledger.running:
                break
            await asyncio.sleep(0.01)
    answers = run(scenario)
    spool.close()
    assert runs == ['fresh'] and stored == [[('',)]]  # committed before the handler ran
    interrupted = [a for a in answers if a['command_id'] == 'crashed']
    assert len(interrupted) == 2 and interrupted[0] == interrupted[1]
    assert interrupted[0]['success'] is False
    assert interrupted[0]['data'] == {'message': 'interrupted by a restart; outcome unknown'}
    assert [(cid, ran) for cid, frame, ran in Spool(str(path)).load()[1]] == [
        ('crashed', True), ('fresh', True)]
