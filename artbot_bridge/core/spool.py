"""
Durable copy of the outbox's queued frames and of the command ids started or answered.

With a spool configured, each command response and log line the outbox queues is also written
to an SQLite file and deleted once sent, and so is the memory of the command ids: after a
crash the bridge loads both back, sends what was pending, and answers a command whose id comes
again from memory instead of executing it again. A command is written as started (a row with
an empty frame) before it runs; its answer replaces that row. A started row found at load time
is a command the crash interrupted: its outcome is unknown, and it is never run again.

Writes go through a queue to one writer thread, which applies whatever is waiting, in order,
in one transaction (a burst costs one fsync) and then trims the ids to the ledger's bounds:
executed ids by count and by age (a wall-clock time; one stamped more than the age in the
future, after the clock was set back, counts as old), refusals by count, started rows never.
Callers (the hub link's event loop) never wait for the disk, except a command, which starts
once its started row is committed: `started` calls back from the writer thread. The queues'
bounds are the outbox's alone: a frame it drops is removed here too (`Outbox.on_drop`). The
spool never raises from a write: the last failure is kept in `failed` and the in-memory outbox
carries on without it (a command whose started row could not be stored still runs).
"""

import itertools
import os
import queue
import sqlite3
import threading
import time
from typing import Callable, Optional

from . import ledger

# `answered` holds command ids: `ran` 0 for a refusal; an empty frame for a started command.
_SCHEMA = (
    'CREATE TABLE IF NOT EXISTS frames('
    'id INTEGER PRIMARY KEY, queue TEXT NOT NULL, frame TEXT NOT NULL)',
    'CREATE TABLE IF NOT EXISTS answered('
    'command_id TEXT PRIMARY KEY, frame TEXT NOT NULL, seq INTEGER NOT NULL)',
)
# Columns added in version 2; a version 1 file gets them, its rows counted as executed.
_COLUMNS = (('ran', 'INTEGER NOT NULL DEFAULT 1'), ('at', 'REAL NOT NULL DEFAULT 0'))
_INDEX = 'CREATE INDEX IF NOT EXISTS answered_ran_seq ON answered(ran, seq)'
_START = ('INSERT OR IGNORE INTO answered(command_id, frame, seq, ran, at) '
          "VALUES (?, '', ?, 1, ?)")
_REMEMBER = ('INSERT OR REPLACE INTO answered(command_id, frame, seq, ran, at) '
             'VALUES (?, ?, ?, ?, ?)')
# Executed: keep the newest `count` (OFFSET: the (count + 1)-th newest and older may go), and
# every row stamped within the age; started rows stay until answered.
_TRIM_EXECUTED = ("DELETE FROM answered WHERE ran = 1 AND frame != '' AND (at < ? OR at > ?) "
                  'AND seq <= (SELECT seq FROM answered WHERE ran = 1 '
                  'ORDER BY seq DESC LIMIT 1 OFFSET ?)')
_TRIM_REFUSED = ('DELETE FROM answered WHERE ran = 0 AND seq <= '
                 '(SELECT seq FROM answered WHERE ran = 0 ORDER BY seq DESC LIMIT 1 OFFSET ?)')
_STOP = object()
Remembered = tuple[str, Optional[str], bool]  # (command id, frame or None if started, ran)


class Spool:
    """SQLite-backed copy of the outbox's queued frames and of the answered command ids."""

    def __init__(self, path: str, max_answered: int = ledger.SIZE,
                 max_refused: int = ledger.REFUSALS, max_age: float = ledger.AGE,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._max_answered = max_answered
        self._max_refused = max_refused
        self._max_age = max_age
        self._clock = clock
        self._ops: 'queue.Queue[object]' = queue.Queue()
        self._lock = threading.Lock()
        self._ids, self._seqs = itertools.count(1), itertools.count(1)
        self._loaded = self._closed = False
        self._writer: threading.Thread | None = None
        self._failed: str | None = None  # the writer thread's, read under the lock
        self._failures = 0

    @property
    def failed(self) -> str | None:
        """Return the text of the last failure, or None."""
        return self.health()[1]

    @property
    def failures(self) -> int:
        """Return how many writes could not be stored."""
        return self.health()[0]

    def health(self) -> tuple[int, str | None]:
        """Return (writes that could not be stored, the last failure's text) (any thread)."""
        with self._lock:
            return self._failures, self._failed

    def _fail(self, reason: str, writes: int = 0) -> None:
        with self._lock:
            self._failures += writes
            self._failed = reason

    def load(self) -> tuple[list[tuple[int, str, str]], list[Remembered]]:
        """
        Return (pending frames as (row id, queue, frame), command ids as (id, frame, ran)).

        Both lists are oldest first. The frame is None for a command that started and was
        never answered; `ran` is False for a refusal. A file that is not a database is renamed
        aside to `<path>.corrupt-<unix time>` and the spool starts empty; a file that cannot be
        opened gives empty lists. Either way the reason is kept in `failed`.
        """
        self._loaded = True
        try:
            try:
                return self._read()
            except sqlite3.OperationalError:
                raise
            except sqlite3.DatabaseError as exc:
                aside = f'{self.path}.corrupt-{int(time.time())}'
                for suffix in ('-wal', '-shm', ''):
                    if os.path.exists(self.path + suffix):
                        os.replace(self.path + suffix, aside + suffix)
                self._fail(f'{self.path}: {exc}; moved to {aside}')
                return self._read()
        except (sqlite3.Error, OSError) as exc:
            self._fail(f'{self.path}: {type(exc).__name__}: {exc}')
            return [], []

    def add(self, queue: str, frame: str) -> int:
        """Schedule the insert of a queued frame; return its row id."""
        if not self._loaded:
            self.load()
        row_id = next(self._ids)
        self._submit(('INSERT INTO frames(id, queue, frame) VALUES (?, ?, ?)',
                      (row_id, queue, frame)))
        return row_id

    def remove(self, row_id: int) -> None:
        """Schedule the delete of a frame that was sent."""
        self._submit(('DELETE FROM frames WHERE id = ?', (row_id,)))

    def started(self, command_id: str, done: Callable[[], None]) -> None:
        """
        Schedule the started row of a command about to run; call `done()` once it is stored.

        `done` is called on the writer thread after the commit (or after the write failed,
        which is counted), or at once here if the spool is closed.
        """
        if not self._loaded:
            self.load()
        if not self._submit((_START, (command_id, next(self._seqs), self._clock())), done):
            done()

    def remember(self, command_id: str, frame: str, ran: bool = True) -> None:
        """Schedule the upsert of an answered command id (its started row, if any)."""
        if not self._loaded:
            self.load()
        self._submit((_REMEMBER, (command_id, frame, next(self._seqs), int(ran),
                                  self._clock())))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every scheduled write is committed (or failed); True if done in time."""
        writer = self._writer
        if writer is None or not writer.is_alive():
            return True
        done = threading.Event()
        self._ops.put(done)
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Commit what is scheduled, stop the writer and close the database; idempotent."""
        with self._lock:
            writer, self._closed = self._writer, True
        if writer is not None and writer.is_alive():
            self._ops.put(_STOP)
            writer.join(timeout)

    def _read(self) -> tuple[list[tuple[int, str, str]], list[Remembered]]:
        conn = self._connect()
        try:
            pending = conn.execute('SELECT id, queue, frame FROM frames ORDER BY id').fetchall()
            answered = conn.execute(
                'SELECT command_id, frame, seq, ran FROM answered ORDER BY seq').fetchall()
        finally:
            conn.close()
        self._ids = itertools.count(max([row[0] for row in pending], default=0) + 1)
        self._seqs = itertools.count((answered[-1][2] if answered else 0) + 1)
        return pending, [(command_id, frame or None, bool(ran))
                         for command_id, frame, _, ran in answered]

    def _connect(self) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            conn.execute('PRAGMA journal_mode=WAL')
            conn.execute('PRAGMA synchronous=FULL')
            for statement in _SCHEMA:
                conn.execute(statement)
            have = {row[1] for row in conn.execute('PRAGMA table_info(answered)')}
            for name, declaration in _COLUMNS:
                if name not in have:
                    conn.execute(f'ALTER TABLE answered ADD COLUMN {name} {declaration}')
            conn.execute(_INDEX)
            if conn.execute('PRAGMA user_version').fetchone()[0] < 2:
                conn.execute('PRAGMA user_version=2')
        except BaseException:
            conn.close()
            raise
        return conn

    def _submit(self, op: tuple, done: Optional[Callable[[], None]] = None) -> bool:
        """Queue a write (and the call that follows its commit); False once closed."""
        with self._lock:
            if self._closed:
                return False
            if self._writer is None:
                self._writer = threading.Thread(target=self._run, name='artbot-spool',
                                                daemon=True)
                self._writer.start()
            self._ops.put(op)
            if done is not None:
                self._ops.put(done)
            return True

    def _run(self) -> None:
        conn = None
        while True:
            batch = [self._ops.get()]
            while True:
                try:
                    batch.append(self._ops.get_nowait())
                except queue.Empty:
                    break
            writes = [op for op in batch if isinstance(op, tuple)]
            if writes:
                conn = self._commit(conn, writes)
            for op in batch:
                if isinstance(op, threading.Event):
                    op.set()
                elif callable(op):
                    self._call(op)
            if _STOP in batch:
                break
        if conn is not None:
            conn.close()

    def _call(self, done: Callable[[], None]) -> None:
        try:
            done()
        except Exception as exc:  # noqa: B902 - the writer thread outlives any callback
            self._fail(f'{self.path}: callback failed: {type(exc).__name__}: {exc}')

    def _commit(self, conn: sqlite3.Connection | None,
                writes: list[tuple]) -> sqlite3.Connection | None:
        """
        Apply one batch in one transaction; if it fails, apply its writes one by one.

        One write that cannot be stored (text with no UTF-8 form, say) then costs only
        itself. Whatever fails is counted and its reason kept in `failed`; the writer thread
        never dies of it.
        """
        conn = self._transaction(conn, writes)
        if conn is None and len(writes) > 1:
            for write in writes:
                conn = self._transaction(conn, [write])
        return conn

    def _transaction(self, conn: sqlite3.Connection | None,
                     writes: list[tuple]) -> sqlite3.Connection | None:
        try:
            if conn is None:
                conn = self._connect()
            conn.execute('BEGIN IMMEDIATE')
            for statement, args in writes:
                conn.execute(statement, args)
            now = self._clock()
            conn.execute(_TRIM_EXECUTED, (now - self._max_age, now + self._max_age,
                                          self._max_answered))
            conn.execute(_TRIM_REFUSED, (self._max_refused,))
            conn.execute('COMMIT')
            return conn
        except Exception as exc:  # noqa: B902 - sqlite3, OSError, UnicodeError: all the same
            # A batch that fails is retried write by write: only those are counted.
            self._fail(f'{self.path}: {type(exc).__name__}: {exc}', 1 if len(writes) == 1 else 0)
            if conn is not None:
                conn.close()  # closing rolls back the open transaction
            return None
