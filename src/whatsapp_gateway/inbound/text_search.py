"""Substring search over inbound message text that stays fast at millions of rows.

A plain ``text ILIKE '%word%'`` scans every row of the account when the word is rare or absent (4.4 s at
1,000,000 rows on SQLite; see bench/inbound_logs.py). Each database gets a trigram index instead:

- PostgreSQL: a ``pg_trgm`` GIN index on ``UPPER(text)``, the expression Django's ``icontains`` compares, so the
  planner uses it by itself for rare words and keeps the (received_at, id) index walk for common ones.
- SQLite: an external-content FTS5 table with the ``trigram`` tokenizer (substring matching, case-insensitive),
  kept in step by triggers. A trigram match narrows the candidates and ``icontains`` still decides, so results are
  exactly those of ``icontains``. Words shorter than 3 characters have no trigram and fall back to the scan.

The SQLite triggers live on the inbound table, and Django rebuilds a SQLite table (dropping its triggers) whenever a
later migration alters it, so ``ensure_text_search_index`` also runs after every ``migrate`` (``apps.py``): it is
idempotent and rebuilds the index when it finds the triggers missing.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

logger = logging.getLogger(__name__)

TABLE = "inbound_inboundmessage"
FTS_TABLE = "inbound_text_fts"
PG_INDEX = "inbound_text_trgm_idx"
MIN_TRIGRAM_LENGTH = 3

# Literal SQL (fixed names, no parameters). The triggers keep the external-content FTS table in step with the rows.
_SQLITE_TRIGGERS = {
    "inbound_text_fts_ai": """
        CREATE TRIGGER IF NOT EXISTS inbound_text_fts_ai AFTER INSERT ON inbound_inboundmessage BEGIN
            INSERT INTO inbound_text_fts(rowid, text) VALUES (new.id, new.text);
        END""",
    "inbound_text_fts_ad": """
        CREATE TRIGGER IF NOT EXISTS inbound_text_fts_ad AFTER DELETE ON inbound_inboundmessage BEGIN
            INSERT INTO inbound_text_fts(inbound_text_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END""",
    # Retention redaction sets text to "": the old trigrams leave the index with the body.
    "inbound_text_fts_au": """
        CREATE TRIGGER IF NOT EXISTS inbound_text_fts_au AFTER UPDATE OF text ON inbound_inboundmessage BEGIN
            INSERT INTO inbound_text_fts(inbound_text_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO inbound_text_fts(rowid, text) VALUES (new.id, new.text);
        END""",
}


def ensure_text_search_index(connection: BaseDatabaseWrapper) -> None:
    """Create the trigram index for ``connection``'s database if it is missing (idempotent, cheap when present)."""
    if connection.vendor == "sqlite":
        _ensure_sqlite(connection)
    elif connection.vendor == "postgresql":
        _ensure_postgresql(connection)


def ensure_after_migrate(sender, using: str = "default", **kwargs) -> None:
    """``post_migrate`` receiver: re-create the SQLite trigram triggers if a later migration rebuilt the inbound
    table."""
    ensure_text_search_index(connections[using])


def _ensure_sqlite(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()}
        if TABLE not in present:
            return
        if FTS_TABLE in present and all(name in present for name in _SQLITE_TRIGGERS):
            return
        with transaction.atomic(using=connection.alias):
            cursor.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS inbound_text_fts USING fts5("
                "text, content='inbound_inboundmessage', content_rowid='id', tokenize='trigram')"
            )
            for sql in _SQLITE_TRIGGERS.values():
                cursor.execute(sql)
            # Rows written while the triggers were missing (or all of them, the first time) are indexed now.
            cursor.execute("INSERT INTO inbound_text_fts(inbound_text_fts) VALUES ('rebuild')")


def _ensure_postgresql(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s), to_regclass(%s)", [TABLE, PG_INDEX])
        table, index = cursor.fetchone()
        if table is None or index is not None:
            return
        try:
            with transaction.atomic(using=connection.alias):
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cursor.execute(
                    "CREATE INDEX IF NOT EXISTS inbound_text_trgm_idx ON inbound_inboundmessage "
                    "USING gin (UPPER(text) gin_trgm_ops)"
                )
        except DatabaseError as exc:  # e.g. a managed database where this role may not create extensions
            logger.warning("inbound text search index not created (%s); text search will scan", exc)


def _sqlite_has_index(connection: BaseDatabaseWrapper) -> bool:
    """Checked once per connection (a database whose SQLite lacks FTS5 keeps working, by scanning)."""
    ready = getattr(connection, "_inbound_text_fts", None)
    if ready is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s", [FTS_TABLE])
            ready = connection._inbound_text_fts = cursor.fetchone() is not None
    return ready


def filter_text(rows: QuerySet, text: str) -> QuerySet:
    """``rows`` whose text contains ``text``, case-insensitively (``icontains`` semantics), using the index."""
    rows = rows.filter(text__icontains=text)
    connection = connections[rows.db]
    if connection.vendor != "sqlite" or len(text) < MIN_TRIGRAM_LENGTH or not _sqlite_has_index(connection):
        return rows  # PostgreSQL: the GIN index serves icontains itself
    phrase = '"' + text.replace('"', '""') + '"'  # one FTS5 string: matched as a substring, never as syntax
    matches = RawSQL("SELECT rowid FROM inbound_text_fts WHERE inbound_text_fts MATCH %s", [phrase])
    return rows.filter(pk__in=matches)


def drop_text_search_index(connection: BaseDatabaseWrapper) -> None:
    """Reverse of ``ensure_text_search_index`` (migrating backwards)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for name in _SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")
            cursor.execute("DROP TABLE IF EXISTS inbound_text_fts")
        elif connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS inbound_text_trgm_idx")
