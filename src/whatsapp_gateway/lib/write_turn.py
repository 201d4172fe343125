"""Short write transactions for the hot path (``send_message``): the lock that serialises a write is held for the
time the work takes, not for the time the disk takes.

- **SQLite** admits one writer at a time. Writers queue for it on an exclusive ``flock`` on a file beside the
  database (and a thread lock within the process), so the next one is woken by the kernel the moment the lock is
  free. Without it they wait in SQLite's busy handler, which polls with sleeps of up to 100 ms while the database may
  already be free: a third of the CPU sat idle under load, and p99 was 7x p50 (bench/send_api.py).
- **PostgreSQL**: the account's log-number row lock serialises an account's sends until COMMIT, and a synchronous
  COMMIT waits for the WAL flush (about 7 ms on these machines), so one account could accept about 140 sends/s
  however many processes served it. The transaction commits with ``synchronous_commit = off`` (the lock is released
  as soon as the commit record is in the WAL buffers) and then waits for durability *outside* the lock with a
  one-statement synchronous commit, which flushes the WAL up to and past our own commit record and shares the flush
  with every other waiting request. The caller answers only after that, so an acknowledged write is as durable as
  with a synchronous commit. A reader may see the row a few milliseconds before it is on disk; everything that acts
  on it (the queue worker's claim) commits synchronously itself, which flushes our record first.
  Each statement is a round trip, so the end of the turn is one: ``SET LOCAL synchronous_commit TO OFF; COMMIT;
  SELECT pg_catalog.txid_current()`` in one pipeline (``lib.pg_batch``: run in order, and the last one is its own
  synchronously committed transaction). With ``WriteTurn.finish`` the body's last write travels in that same
  pipeline, as a prepared statement.

Inside an outer transaction none of this applies (that transaction's own commit decides), so it is a plain
``transaction.atomic()`` there.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection, transaction

from whatsapp_gateway.lib import pg_batch

_THREAD_LOCK = threading.Lock()
_LOCK_FILES: dict[tuple[int, str], int] = {}  # (pid, path) -> fd; a forked child opens its own


def _sqlite_lock_path() -> str | None:
    """The lock file beside an on-disk SQLite database; None for an in-memory one (one process only)."""
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        return None
    return f"{name}.write-lock"


def _lock_fd(path: str) -> int:
    key = (os.getpid(), path)
    fd = _LOCK_FILES.get(key)
    if fd is None:
        fd = _LOCK_FILES[key] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return fd


_HELD = threading.local()


@contextlib.contextmanager
def _sqlite_turn() -> Iterator[None]:
    if getattr(_HELD, "turn", False):  # this thread has the turn already (an on-commit callback of its own turn)
        yield
        return
    with _THREAD_LOCK:  # flock is per open file: threads of one process share the fd, so they queue here first
        path = _sqlite_lock_path()
        if path is None:
            yield
            return
        fd = _lock_fd(path)
        fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD.turn = True
        try:
            yield
        finally:
            _HELD.turn = False
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def single_write() -> Iterator[None]:
    """One autocommit write outside a write turn (the send's lane wake-up after it): on SQLite it takes its turn on
    the same file lock, so it waits in the kernel instead of in SQLite's polling busy handler; elsewhere, and inside
    a transaction, it adds nothing."""
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with _sqlite_turn():
            yield
    else:
        yield


def wait_for_wal_flush() -> None:
    """Return once everything this session committed is on disk (PostgreSQL): a transaction that is given an id
    and commits synchronously flushes the WAL up to its own commit record, which lies after ours."""
    with connection.cursor() as cursor:
        cursor.execute(_FLUSH_SQL)


_FLUSH_SQL = "SELECT pg_catalog.txid_current()"


class WriteTurn:
    """What the body of ``write_turn`` may use to end the turn: ``finish`` runs its last write and, in an outermost
    PostgreSQL turn, the commit and the durability wait in the same round trip. Nothing may run in the turn after
    ``finish``."""

    def __init__(self, *, batched: bool) -> None:
        self.batched = batched  # an outermost PostgreSQL turn: the commit can travel with the last statement
        self.committed = False

    def finish(self, sql: str | None, params: Sequence[Any] = ()) -> list[tuple]:
        """Run ``sql`` (the turn's last statement, or None) and return its rows; in an outermost PostgreSQL turn the
        commit and the durability wait travel in the same round trip."""
        if not self.batched:
            return [] if sql is None else pg_batch.fetch(sql, params)
        rows: list[tuple] = []
        tail = [("SET LOCAL synchronous_commit TO OFF", None), ("COMMIT", None), (_FLUSH_SQL, None)]
        if sql is None:
            pg_batch.run(tail, prepare=[False, False, True])
        else:
            rows = pg_batch.run([(sql, params), *tail], prepare=[True, False, False, True])[0]
        self.committed = True
        return rows


def _session_idle() -> bool:
    """No statement has run in the turn yet (psycopg sends BEGIN with the first one)."""
    return connection.connection is None or connection.connection.info.transaction_status.name == "IDLE"


@contextlib.contextmanager
def write_turn() -> Iterator[WriteTurn]:
    """``transaction.atomic()`` whose locks are held as briefly as the database allows (see the module doc)."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield WriteTurn(batched=False)
        return
    if connection.vendor == "sqlite":
        with _sqlite_turn(), transaction.atomic():
            yield WriteTurn(batched=False)
        return
    if connection.vendor != "postgresql":
        with transaction.atomic():
            yield WriteTurn(batched=False)
        return
    turn = WriteTurn(batched=True)
    with transaction.atomic():
        yield turn
        if not turn.committed and not connection.needs_rollback and not _session_idle():
            turn.finish(None)
    # Django's commit finds the session idle and sends nothing; its on-commit callbacks run now, after the flush.
    # A turn that did not finish here was rolled back, or committed synchronously by Django.
