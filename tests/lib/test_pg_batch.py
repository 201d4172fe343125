"""``lib.pg_batch`` (PostgreSQL): statements prepared once per connection, several in one round trip, errors as
Django's, each run logged as one query."""

from __future__ import annotations

import psycopg
import pytest
from django.db import DataError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from whatsapp_gateway.lib import pg_batch

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's extended protocol"),
]

ECHO = "SELECT %s::int + 1 AS n, %s::text AS word"


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        return [row[0] for row in cursor.fetchall()]


def test_a_statement_is_prepared_once_and_reused_with_new_values():
    assert pg_batch.run([(ECHO, [1, "one"])]) == [[(2, "one")]]
    assert pg_batch.run([(ECHO, [41, "two"])]) == [[(42, "two")]]
    assert len([sql for sql in _prepared() if "+ 1 AS n" in sql]) == 1


def test_named_parameters_may_repeat():
    assert pg_batch.run([("SELECT %(a)s::int * %(a)s::int", {"a": 7})]) == [[(49,)]]


def test_several_statements_share_one_round_trip_and_return_their_own_rows():
    with CaptureQueriesContext(connection) as captured:
        rows = pg_batch.run([(ECHO, [1, "a"]), ("SET LOCAL statement_timeout TO 5000", None), (ECHO, [2, "b"])])
    assert rows == [[(2, "a")], [], [(3, "b")]]
    assert len(captured.captured_queries) == 1
    assert captured.captured_queries[0]["sql"].count("; ") == 2


def test_statements_run_in_order_in_one_transaction():
    with transaction.atomic():
        pg_batch.run(
            [
                ("CREATE TEMPORARY TABLE batch_order (n int) ON COMMIT DROP", None),
                ("INSERT INTO batch_order VALUES (%s)", [1]),
                ("INSERT INTO batch_order VALUES ((SELECT max(n) + 1 FROM batch_order))", None),
            ],
            prepare=[False, True, True],
        )
        assert pg_batch.run([("SELECT array_agg(n ORDER BY n) FROM batch_order", None)]) == [[([1, 2],)]]


def test_a_failing_statement_raises_djangos_error_and_skips_the_rest():
    with pytest.raises(IntegrityError), transaction.atomic():
        pg_batch.run(
            [
                ("CREATE TEMPORARY TABLE batch_unique (n int PRIMARY KEY) ON COMMIT DROP", None),
                ("INSERT INTO batch_unique VALUES (%s)", [1]),
                ("INSERT INTO batch_unique VALUES (%s)", [1]),
                ("SELECT 1 / 0", None),
            ],
            prepare=[False, True, True, True],
        )
    # the connection is usable again once the transaction is rolled back
    assert pg_batch.run([(ECHO, [0, "after"])]) == [[(1, "after")]]


def test_preparing_can_be_turned_off(settings):
    settings.DB_PREPARED_STATEMENTS = False
    sql = "SELECT %s::int - 1 AS unprepared"
    assert pg_batch.run([(sql, [5])]) == [[(4,)]]
    assert not [statement for statement in _prepared() if "unprepared" in statement]


@pytest.mark.django_db(transaction=True)
def test_read_only_statements_are_their_own_health_check_on_a_connection_the_server_dropped():
    """Django would check the reused connection with a SELECT 1 first; read-only statements outside a transaction
    skip that round trip and, on a connection the server has dropped, run again on a new one."""
    before = pg_batch.run([("SELECT pg_backend_pid()", None)])[0][0][0]
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [before])
    connection.health_check_done = False  # as at the start of the next request
    assert pg_batch.run([(ECHO, [2, "again"])], read_only=True) == [[(3, "again")]]
    assert connection.health_check_done
    assert pg_batch.run([("SELECT pg_backend_pid()", None)])[0][0][0] != before


@pytest.mark.django_db(transaction=True)
def test_a_statement_error_on_a_live_connection_is_not_retried():
    connection.ensure_connection()
    connection.health_check_done = False
    with pytest.raises(DataError):
        pg_batch.run([("SELECT 1 / %s::int", [0])], read_only=True)
