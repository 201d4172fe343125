"""``lib.write_turn``: SQLite writers queue on a file lock (across processes), PostgreSQL commits asynchronously and
waits for the WAL flush after releasing its locks, and inside an outer transaction it is a plain atomic block."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from whatsapp_gateway.lib import ids, write_turn
from whatsapp_gateway.messaging.models import LogSequence


def test_sqlite_writers_queue_on_a_file_lock_that_another_process_can_hold(tmp_path, monkeypatch):
    """flock locks belong to an open file, so a second descriptor opened here stands for another process."""
    lock_path = str(tmp_path / "db.sqlite3.write-lock")
    monkeypatch.setattr(write_turn, "_sqlite_lock_path", lambda: lock_path)
    other = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(other, fcntl.LOCK_EX)
    entered = threading.Event()

    def writer() -> None:
        with write_turn._sqlite_turn():
            entered.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert not entered.wait(0.3), "entered while another process held the write lock"
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
    assert entered.wait(5), "not woken when the lock was released"
    thread.join(5)
    # And the turn is given back: the other process can take the lock again at once.
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(other)


def test_an_in_memory_sqlite_database_needs_no_lock_file(settings, monkeypatch):
    monkeypatch.setitem(connection.settings_dict, "NAME", "file:memorydb?mode=memory&cache=shared")
    assert write_turn._sqlite_lock_path() is None
    monkeypatch.setitem(connection.settings_dict, "NAME", "/data/gateway.sqlite3")
    assert write_turn._sqlite_lock_path() == "/data/gateway.sqlite3.write-lock"


def test_threads_of_one_process_take_turns(tmp_path, monkeypatch):
    monkeypatch.setattr(write_turn, "_sqlite_lock_path", lambda: str(tmp_path / "lock"))
    inside, overlaps = [0], []

    def writer() -> None:
        for _ in range(20):
            with write_turn._sqlite_turn():
                inside[0] += 1
                overlaps.append(inside[0])
                time.sleep(0.0005)
                inside[0] -= 1

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert max(overlaps) == 1 and len(overlaps) == 80


@pytest.mark.django_db
def test_inside_an_outer_transaction_it_is_a_plain_atomic_block(owner_alice):
    with CaptureQueriesContext(connection) as captured, write_turn.write_turn():
        LogSequence.objects.filter(account_id=owner_alice.account.pk).update(last_log_id=7)
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "synchronous_commit" not in sql and "txid_current" not in sql


@pytest.mark.django_db(transaction=True)
def test_postgresql_commits_asynchronously_then_waits_for_the_flush_in_one_round_trip(owner_alice):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    account_id = owner_alice.account.pk
    LogSequence.objects.get_or_create(account_id=account_id)
    with CaptureQueriesContext(connection) as captured:
        with write_turn.write_turn():
            LogSequence.objects.filter(account_id=account_id).update(last_log_id=41)
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            after = cursor.fetchone()[0]
    assert after == "on", "SET LOCAL must not outlive the transaction"
    sql = [q["sql"] for q in captured.captured_queries]
    # the commit, made asynchronous just before it, and the synchronous one that waits for the flush after it
    assert "SET LOCAL synchronous_commit TO OFF; COMMIT; SELECT pg_catalog.txid_current()" in sql, sql
    assert LogSequence.objects.get(account_id=account_id).last_log_id == 41


@pytest.mark.django_db(transaction=True)
def test_the_last_write_carries_the_commit(owner_alice):
    """``WriteTurn.finish``: on PostgreSQL the last write, the commit and the flush wait are one round trip;
    elsewhere the write runs alone and the turn commits when it ends."""
    account_id = owner_alice.account.pk
    LogSequence.objects.get_or_create(account_id=account_id)
    update = "UPDATE messaging_logsequence SET last_log_id = 42 WHERE account_id = %s RETURNING last_log_id"
    with CaptureQueriesContext(connection) as captured, write_turn.write_turn() as turn:
        rows = turn.finish(update, [account_id])
        if connection.vendor == "postgresql":
            assert connection.connection.info.transaction_status.name == "IDLE"  # committed already
    assert rows == [(42,)]
    assert LogSequence.objects.get(account_id=account_id).last_log_id == 42
    if connection.vendor == "postgresql":
        trips = [q["sql"] for q in captured.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
        assert len(trips) == 1 and trips[0].count("; ") == 3, trips


@pytest.mark.django_db
def test_inside_an_outer_transaction_finish_only_writes(owner_alice):
    LogSequence.objects.get_or_create(account_id=owner_alice.account.pk)
    with CaptureQueriesContext(connection) as captured, write_turn.write_turn() as turn:
        assert turn.finish("UPDATE messaging_logsequence SET last_log_id = 5", []) == []
    assert not [q for q in captured.captured_queries if "COMMIT" in q["sql"] or "txid_current" in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_a_failed_write_rolls_back_and_skips_the_flush(owner_alice):
    account_id = owner_alice.account.pk
    LogSequence.objects.get_or_create(account_id=account_id)
    with CaptureQueriesContext(connection) as captured, pytest.raises(RuntimeError), write_turn.write_turn():
        LogSequence.objects.filter(account_id=account_id).update(last_log_id=99)
        raise RuntimeError("boom")
    assert LogSequence.objects.get(account_id=account_id).last_log_id != 99
    assert not [q for q in captured.captured_queries if "txid_current" in q["sql"]]


def test_random_tokens_use_the_whole_alphabet_at_the_asked_length():
    tokens = [ids.random_token(20) for _ in range(2000)]
    assert {len(t) for t in tokens} == {20}
    assert len(set(tokens)) == 2000
    assert set("".join(tokens)) == set(ids._ALPHABET)
    assert ids.public_id("msg").startswith("msg_")


def test_a_write_made_while_the_thread_has_its_turn_does_not_wait_for_itself(tmp_path, monkeypatch):
    """An on-commit callback of a write turn runs before the turn is given back; its own ``single_write`` must not
    wait for the lock its thread holds."""
    monkeypatch.setattr(write_turn, "_sqlite_lock_path", lambda: str(tmp_path / "lock"))
    monkeypatch.setattr(connection, "vendor", "sqlite")
    done = threading.Event()

    def nested() -> None:
        with write_turn._sqlite_turn(), write_turn.single_write():
            done.set()

    thread = threading.Thread(target=nested)
    thread.start()
    thread.join(5)
    assert done.is_set()
    with write_turn._sqlite_turn():  # and the turn was given back
        pass
