"""The send path's statements on PostgreSQL: prepared once per connection, several in one round trip.

Django binds parameters on the client: every query goes out as text with its values inlined, so PostgreSQL parses
and plans it from scratch each time. For the send's reads and limit counts that cost three to four times as much
server CPU as running them (bench/send_profile.py). ``run`` uses the extended protocol instead: each statement is
prepared on its connection the first time it runs there (psycopg keeps them per connection), later runs skip
parsing, and once PostgreSQL has settled on a generic plan (after five runs, when that plan costs no more than the
custom ones) also planning. A plan is made again when the tables' statistics change (ANALYZE, autovacuum).

``fetch`` runs one statement the same way on PostgreSQL and through Django's cursor elsewhere, for the callers that
serve both. Several statements travel in one pipeline: one round trip, in order, with the same transaction semantics as one
multi-statement query string (a failed statement skips the rest, and the transaction is then aborted).

Behind PgBouncer in transaction mode, prepared statements need PgBouncer 1.21 or newer with
``max_prepared_statements`` set; ``DB_PREPARED_STATEMENTS=0`` turns preparation off (docs/scaling.md).

Each ``run`` is logged as one query (its statements joined by ``"; "``) wherever Django logs queries, so a test
counting round trips with ``CaptureQueriesContext`` counts it once.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, connection

Params = Sequence[Any] | Mapping[str, Any] | None
Statement = tuple[str, Params]

# psycopg prepares only on a connection with a threshold (Django opens its connections with none): a threshold no
# query reaches, so nothing but ``run``'s statements, which ask for it, is ever prepared.
_NEVER_BY_COUNT = 1 << 30


def run(
    statements: Sequence[Statement], *, prepare: Sequence[bool] | None = None, read_only: bool = False
) -> list[list[tuple]]:
    """Run ``statements`` (``(sql, params)``; PostgreSQL only) in order in one round trip and return each one's rows
    (empty for a statement that returns none). ``prepare`` says which of them to prepare (default: all, when
    ``DB_PREPARED_STATEMENTS`` allows); utility statements such as ``COMMIT`` or ``SET`` cannot be.

    ``read_only`` statements may run twice. Django checks a reused connection once per request with a ``SELECT 1``
    round trip before its first query; for read-only statements outside a transaction that check is the statements
    themselves: if they fail on a connection the server has dropped, they run again on a new one."""
    if (
        read_only
        and connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
        and not connection.in_atomic_block
    ):
        try:
            rows = _run(statements, prepare)
        except DatabaseError:
            if connection.is_usable():
                raise
            connection.close()  # dropped by the server (restart, idle timeout): nothing ran, so run them again
            rows = _run(statements, prepare)
        connection.health_check_done = True
        return rows
    connection.close_if_health_check_failed()
    return _run(statements, prepare)


def fetch(sql: str, params: Params = None, *, read_only: bool = False) -> list[tuple]:
    """One statement's rows on any database: prepared through ``run`` on PostgreSQL, through Django's cursor
    elsewhere (empty for a statement that returns none)."""
    if connection.vendor == "postgresql":
        return run([(sql, params)], read_only=read_only)[0]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _run(statements: Sequence[Statement], prepare: Sequence[bool] | None) -> list[list[tuple]]:
    connection.ensure_connection()
    raw = connection.connection
    allowed = settings.DB_PREPARED_STATEMENTS
    if allowed and raw.prepare_threshold is None:
        raw.prepare_threshold = _NEVER_BY_COUNT
    flags = [allowed and (prepare is None or prepare[n]) for n in range(len(statements))]
    cursors = [psycopg.Cursor(raw) for _ in statements]
    start = time.monotonic()
    try:
        with connection.wrap_database_errors:
            if len(statements) == 1:
                cursors[0].execute(statements[0][0], statements[0][1], prepare=flags[0])
            else:
                with raw.pipeline():
                    for cursor, (sql, params), flag in zip(cursors, statements, flags, strict=True):
                        cursor.execute(sql, params, prepare=flag)
            return [cursor.fetchall() if cursor.description else [] for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()
        if connection.queries_logged:
            connection.queries_log.append(
                {"sql": "; ".join(sql for sql, _ in statements), "time": f"{time.monotonic() - start:.3f}"}
            )
