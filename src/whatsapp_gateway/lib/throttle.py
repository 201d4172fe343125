"""Throttling of authentication failures per client IP (API-key guessing, 3CX secret guessing).

A fixed one-minute window per scope and IP, counted atomically: every attempt first takes a slot
(``auth_attempt_start``: one atomic increment), a successful authentication gives it back (``auth_attempt_passed``),
a failed one keeps it. So the counter is "failures plus attempts in flight", and no burst of parallel guesses can get
past ``GATEWAY_AUTH_FAILURES_PER_MINUTE``: each one sees the count including all the others. A credential already
known to be right (an API key this process verified seconds ago) takes no slot: ``auth_failures_exceeded`` only
reads the count, so it too is refused while the address is throttled.

The counter lives in Redis with ``REDIS_URL`` (the ``limits`` library's storage, shared by every web process), else in
a small SQLite file under the data directory (``BEGIN IMMEDIATE`` makes each increment atomic across the processes
and threads of one host). A store outage never locks anyone out (fail open).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from limits.storage import storage_from_string

from whatsapp_gateway.lib.clock import now

logger = logging.getLogger(__name__)
WINDOW_SECONDS = 60


class _Counter(Protocol):
    def incr(self, key: str, expiry: int, amount: int = 1) -> int: ...

    def get(self, key: str) -> int: ...


class SqliteCounter:
    """Atomic expiring counters in one SQLite file (the no-Redis fallback).

    Every API request writes here twice (take a slot, give it back), so writers first queue on an exclusive
    ``flock`` beside the file (and a thread lock within the process): the kernel wakes the next one the moment the
    lock is free. Left to SQLite's busy handler they polled with sleeps of up to 100 ms, which set the send path's
    p99 (bench/send_api.py). ``BEGIN IMMEDIATE`` still makes each increment atomic on its own."""

    _SCHEMA = "CREATE TABLE IF NOT EXISTS counter (key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires REAL NOT NULL)"

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._calls = 0
        self._thread_lock = threading.Lock()
        self._lock_fds: dict[int, int] = {}  # pid -> fd: a forked child opens its own

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=OFF")  # counters need no durability
            connection.execute(self._SCHEMA)
            self._local.connection = connection
        return connection

    def _lock_fd(self) -> int:
        fd = self._lock_fds.get(os.getpid())
        if fd is None:
            fd = self._lock_fds[os.getpid()] = os.open(f"{self.path}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
        return fd

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        connection = self._connection()
        with self._thread_lock:  # flock is per open file: this process's threads share the fd, so they queue here
            fd = self._lock_fd()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                return self._incr(connection, key, expiry, amount)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def get(self, key: str) -> int:
        """The counter's value now (0 once expired); a read, so it takes no lock."""
        row = (
            self._connection()
            .execute("SELECT count FROM counter WHERE key = ? AND expires > ?", (key, time.time()))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def _incr(self, connection: sqlite3.Connection, key: str, expiry: int, amount: int) -> int:
        current = time.time()
        connection.execute("BEGIN IMMEDIATE")
        try:
            self._calls += 1
            if self._calls % 500 == 0:
                connection.execute("DELETE FROM counter WHERE expires <= ?", (current,))
            else:
                connection.execute("DELETE FROM counter WHERE key = ? AND expires <= ?", (key, current))
            (count,) = connection.execute(
                "INSERT INTO counter (key, count, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET count = count + excluded.count RETURNING count",
                (key, amount, current + expiry),
            ).fetchone()
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return int(count)


_stores: dict[str, _Counter] = {}
_stores_lock = threading.Lock()


def _store() -> _Counter:
    location = settings.REDIS_URL or str(settings.GATEWAY_AUTH_THROTTLE_FILE)
    store = _stores.get(location)
    if store is None:
        with _stores_lock:
            store = _stores.get(location)
            if store is None:
                store = storage_from_string(location) if settings.REDIS_URL else SqliteCounter(location)
                _stores[location] = store
    return store


@dataclass(frozen=True)
class AuthAttempt:
    allowed: bool
    key: str | None = None  # the slot taken (None when refused, or when the store was unavailable)


def _key(scope: str, ip: str | None) -> str:
    return f"authfail:{scope}:{ip or '-'}:{int(now().timestamp()) // WINDOW_SECONDS}"


def auth_attempt_start(*, scope: str, ip: str | None) -> AuthAttempt:
    """Take a slot for one authentication attempt from ``ip`` in ``scope`` (``api``, ``threecx``). Not allowed once
    the minute's failures (plus attempts in flight) reach the limit: answer 429 without checking the credential."""
    key = _key(scope, ip)
    try:
        count = _store().incr(key, WINDOW_SECONDS * 2)
    except Exception:
        logger.warning("auth throttle unavailable (store error); not throttling", exc_info=True)
        return AuthAttempt(allowed=True)
    if count > settings.GATEWAY_AUTH_FAILURES_PER_MINUTE:
        _give_back(key)  # a refused attempt is not a failure
        return AuthAttempt(allowed=False)
    return AuthAttempt(allowed=True, key=key)


def auth_failures_exceeded(*, scope: str, ip: str | None) -> bool:
    """Whether ``ip`` has used up the minute's failures in ``scope``, read without taking a slot: for a credential
    already known to be right (it cannot fail, so it needs no slot), which still waits while the address is
    throttled (a guesser may have found it). One read instead of two increments."""
    try:
        count = _store().get(_key(scope, ip))
    except Exception:
        logger.warning("auth throttle unavailable (store error); not throttling", exc_info=True)
        return False
    return count >= settings.GATEWAY_AUTH_FAILURES_PER_MINUTE


def auth_attempt_passed(attempt: AuthAttempt) -> None:
    """The credential was right (or never judged): give the slot back. A failure simply keeps it."""
    if attempt.key is not None:
        _give_back(attempt.key)


def _give_back(key: str) -> None:
    try:
        _store().incr(key, WINDOW_SECONDS * 2, amount=-1)
    except Exception:
        logger.warning("auth throttle unavailable (store error); slot not given back", exc_info=True)


def retry_after_seconds() -> int:
    return WINDOW_SECONDS - int(now().timestamp()) % WINDOW_SECONDS
