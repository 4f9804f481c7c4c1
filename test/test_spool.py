"""Pure tests of the SQLite spool: round trip, order, bounds, failures, a SIGKILL."""

import os
import signal
import sqlite3
import subprocess
import sys
import threading

from artbot_bridge.core.outbox import Outbox
from artbot_bridge.core.spool import Spool
from harness import ManualClock
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = """
import sys
from artbot_bridge.core.spool import Spool
spool = Spool(sys.argv[1])
spool.load()
for i in range(100):
    spool.add('logs' if i % 3 == 0 else 'responses', f'frame-{i}')
print('ready' if spool.flush() else 'late', flush=True)
sys.stdin.read()
"""


def opened(path, **bounds):
    spool = Spool(str(path), **bounds)
    return spool, spool.load()


def reloaded(path, **bounds):
    spool, loaded = opened(path, **bounds)
    spool.close()
    assert spool.failed is None
    return loaded


def test_round_trip_across_close_and_reopen(tmp_path):
    path = tmp_path / 'missing' / 'dir' / 'spool.db'
    spool, loaded = opened(path)
    assert loaded == ([], [])
    ids = [spool.add('responses', f'r{i}') for i in range(3)] + [spool.add('logs', 'l0')]
    spool.remove(ids[1])
    spool.remember('cmd-1', 'answer-1')
    spool.close()
    spool, (pending, answered) = opened(path)
    assert pending == [(ids[0], 'responses', 'r0'), (ids[2], 'responses', 'r2'),
                       (ids[3], 'logs', 'l0')]
    assert answered == [('cmd-1', 'answer-1', True)]
    assert spool.add('logs', 'l1') > ids[3]
    spool.remove(ids[0])
    spool.close()
    assert [row[2] for row in reloaded(path)[0]] == ['r2', 'l0', 'l1']


def test_order_is_insertion_order_across_queues(tmp_path):
    spool, _ = opened(tmp_path / 'spool.db')
    ids = [spool.add('logs' if i % 2 else 'responses', f'f{i}') for i in range(50)]
    assert ids == sorted(ids) and len(set(ids)) == 50
    for row_id in ids[::5]:
        spool.remove(row_id)
    spool.close()
    expected = [f'f{i}' for i in range(50) if i % 5]
    assert [row[2] for row in reloaded(tmp_path / 'spool.db')[0]] == expected


def test_bounds_per_queue_keep_the_newest(tmp_path):
    """The outbox's bounds hold on disk too: what it drops, the spool forgets."""
    path = tmp_path / 'spool.db'
    spool, _ = opened(path)
    outbox = Outbox(max_responses=3, max_logs=2, on_drop=spool.remove)
    for i in range(6):
        outbox.put('responses', f'r{i}', spool.add('responses', f'r{i}'))
        outbox.put('logs', f'l{i}', spool.add('logs', f'l{i}'))
    spool.close()
    pending = reloaded(path)[0]
    assert [(row[1], row[2]) for row in pending] == [
        ('responses', 'r3'), ('responses', 'r4'), ('logs', 'l4'), ('responses', 'r5'),
        ('logs', 'l5')]


def test_answered_bounded_newest_kept_and_upserted(tmp_path):
    path, clock = tmp_path / 'spool.db', ManualClock()
    spool, _ = opened(path, max_answered=3, max_age=600, clock=clock)
    for name in 'abcde':
        spool.remember(name, f'{name}1')
    clock.now += 601  # past the age: the count alone keeps them
    assert spool.flush()
    spool.remember('c', 'c2')
    spool.close()
    executed = [(cid, frame) for cid, frame, ran in reloaded(path)[1] if ran]
    assert executed == [('d', 'd1'), ('e', 'e1'), ('c', 'c2')]
    spool, _ = opened(path, max_answered=3, max_age=600, clock=clock)
    clock.now += 601
    spool.remember('f', 'f1')
    spool.close()
    assert reloaded(path)[1] == [('e', 'e1', True), ('c', 'c2', True), ('f', 'f1', True)]


def test_executed_ids_are_kept_by_age_and_refusals_never_push_them_out(tmp_path):
    path, clock = tmp_path / 'spool.db', ManualClock()
    spool, _ = opened(path, max_answered=2, max_refused=3, max_age=600, clock=clock)
    for i in range(5):
        spool.remember(f'ran{i}', f'answer{i}')
    for i in range(2100):
        spool.remember(f'refused{i}', 'unknown action', ran=False)
    clock.now += 599
    assert spool.flush()
    remembered = opened(path)[1][1]
    assert [cid for cid, _, ran in remembered if ran] == [f'ran{i}' for i in range(5)]
    refused = [cid for cid, _, ran in remembered if not ran]
    assert refused == ['refused2097', 'refused2098', 'refused2099']
    clock.now += 2  # older than the age now: only the count keeps them
    spool.remember('ran5', 'answer5')
    spool.close()
    assert [cid for cid, _, ran in reloaded(path)[1] if ran] == ['ran4', 'ran5']


def test_a_started_row_is_committed_before_done_is_called_and_never_trimmed(tmp_path):
    path, clock = tmp_path / 'spool.db', ManualClock()
    spool, _ = opened(path, max_answered=1, max_age=0, clock=clock)
    seen = []

    def done():
        with sqlite3.connect(f'file:{path}?mode=ro', uri=True) as db:
            seen.append(db.execute('SELECT command_id, frame FROM answered').fetchall())
    spool.started('long', done)
    assert spool.flush() and seen == [[('long', '')]]  # committed, read by another connection
    for name in 'abc':
        clock.now += 1
        spool.remember(name, f'{name}1')
    assert spool.flush()
    assert opened(path)[1][1] == [('long', None, True), ('c', 'c1', True)]
    clock.now += 1
    spool.remember('long', 'long answered')  # the answer replaces the started row
    spool.close()
    assert reloaded(path)[1] == [('long', 'long answered', True)]
    spool.started('after close', lambda: seen.append('at once'))
    assert seen[-1] == 'at once'


def test_a_version_1_file_is_upgraded_and_its_ids_count_as_executed(tmp_path):
    path = tmp_path / 'spool.db'
    with sqlite3.connect(path) as db:
        db.execute('CREATE TABLE answered('
                   'command_id TEXT PRIMARY KEY, frame TEXT NOT NULL, seq INTEGER NOT NULL)')
        db.execute("INSERT INTO answered VALUES ('old', 'old answer', 7)")
        db.execute('PRAGMA user_version=1')
    spool, (_, remembered) = opened(path)
    assert remembered == [('old', 'old answer', True)]
    spool.started('new', lambda: None)
    spool.close()
    assert reloaded(path)[1] == [('old', 'old answer', True), ('new', None, True)]


def test_flush_and_close(tmp_path):
    spool, _ = opened(tmp_path / 'spool.db')
    assert spool.flush()
    spool.add('responses', 'r0')
    assert spool.flush()
    writers = [t for t in threading.enumerate() if t.name == 'artbot-spool']
    assert writers and all(t.daemon for t in writers)
    spool.close()
    spool.close()
    assert spool.flush() and not any(t.is_alive() for t in writers)
    spool.add('responses', 'after close is ignored')
    assert spool.failed is None


def test_corrupt_file_is_set_aside(tmp_path):
    path = tmp_path / 'spool.db'
    path.write_bytes(b'this is not an SQLite database\n' * 200)
    spool, loaded = opened(path)
    assert loaded == ([], []) and 'not a database' in spool.failed
    aside = list(tmp_path.glob('spool.db.corrupt-*'))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b'this is not')
    spool.add('responses', 'fresh')
    spool.close()
    assert [row[2] for row in reloaded(path)[0]] == ['fresh']


def test_parent_is_a_file(tmp_path):
    (tmp_path / 'file').write_text('x')
    spool, loaded = opened(tmp_path / 'file' / 'spool.db')
    assert loaded == ([], []) and spool.failed
    assert isinstance(spool.add('responses', 'r0'), int)
    spool.remember('cmd', 'answer')
    assert spool.flush()
    spool.close()
    assert spool.failed


def test_writer_failure_is_recorded_and_the_writer_recovers(tmp_path):
    directory = tmp_path / 'dir'
    spool, _ = opened(directory / 'spool.db')
    os.remove(directory / 'spool.db')
    directory.rmdir()
    directory.write_text('now a file')
    spool.add('responses', 'lost')
    assert spool.flush() and spool.failed
    directory.unlink()
    spool.add('responses', 'kept')
    spool.close()
    assert [row[2] for row in reloaded(directory / 'spool.db')[0]] == ['kept']


@pytest.mark.skipif(os.geteuid() == 0, reason='root ignores directory permissions')
def test_read_only_directory(tmp_path):
    directory = tmp_path / 'ro'
    directory.mkdir()
    directory.chmod(0o500)
    try:
        spool, loaded = opened(directory / 'spool.db')
        assert loaded == ([], []) and spool.failed
        spool.add('logs', 'l0')
        assert spool.flush()
        spool.close()
        assert spool.failed
    finally:
        directory.chmod(0o700)


def test_frames_survive_sigkill(tmp_path):
    path = tmp_path / 'spool.db'
    env = {**os.environ, 'PYTHONPATH': ROOT}
    with subprocess.Popen([sys.executable, '-c', CHILD, str(path)], env=env, text=True,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE) as child:
        try:
            assert child.stdout.readline().strip() == 'ready'
            child.send_signal(signal.SIGKILL)
            assert child.wait(10) == -signal.SIGKILL
        finally:
            child.kill()
    pending = reloaded(path)[0]
    assert [row[2] for row in pending] == [f'frame-{i}' for i in range(100)]
    assert [row[1] for row in pending[:4]] == ['logs', 'responses', 'responses', 'logs']


def test_a_write_that_cannot_be_stored_costs_only_itself_and_the_writer_lives_on(tmp_path):
    path = tmp_path / 'spool.db'
    spool, _ = opened(path)
    spool.add('responses', 'before')
    spool.remember('\ud800', 'a lone surrogate has no UTF-8 form')
    spool.add('responses', 'beside')
    assert spool.flush()
    spool.add('responses', 'after')
    spool.remember('c1', 'answer')
    assert spool.flush()
    assert spool.failures == 1 and 'surrogate' in spool.failed
    spool.close()
    pending, answered = opened(path)[1]
    assert [frame for _, _, frame in pending] == ['before', 'beside', 'after']
    assert answered == [('c1', 'answer', True)]
