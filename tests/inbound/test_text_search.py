"""Inbound Logs text search: icontains semantics through the trigram index (pg_trgm on PostgreSQL, FTS5 on SQLite),
the newest-rows probe and its fallback, keyset pages under a text search, and the index following redaction."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from tests.inbound.test_inbound_logs_page import T0, URL, row_ids, seed
from whatsapp_gateway.inbound import selectors
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.inbound.selectors import InboundFilters, inbound_page
from whatsapp_gateway.inbound.text_search import ensure_text_search_index

sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'", reason="the FTS5 table is SQLite's index")


def _texts(account, text, **kwargs):
    page = inbound_page(account=account, filters=InboundFilters(text=text), **kwargs)
    return [r.text for r in page.rows]


@pytest.fixture
def messages(alice_bare_instance):
    texts = [
        "Where is my ORDER 1234?",
        "أين الفاتورة من فضلك",
        "refund please",
        'He said "stop" OR quit*',
        "a-b (c) NEAR d",
        "ok",
    ]
    for i, text in enumerate(texts):
        seed(alice_bare_instance, 1, at=T0 + dt.timedelta(minutes=i), text=text)
    return alice_bare_instance


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("order", ["Where is my ORDER 1234?"]),
        ("Order 12", ["Where is my ORDER 1234?"]),
        ("الفاتورة", ["أين الفاتورة من فضلك"]),
        ("ok", ["ok"]),  # shorter than a trigram: scanned, still found
        ("re", ["refund please", "Where is my ORDER 1234?"]),
        ('"stop"', ['He said "stop" OR quit*']),  # FTS syntax characters are plain text
        ("OR quit*", ['He said "stop" OR quit*']),
        ("(c) NEAR", ["a-b (c) NEAR d"]),
        ("a-b", ["a-b (c) NEAR d"]),
        ("xylophone", []),
    ],
)
def test_search_finds_substrings_case_insensitively(owner_alice, messages, search, expected):
    assert _texts(owner_alice.account, search) == expected


def test_the_portal_search_shows_only_matching_rows(alice_client, messages):
    html = alice_client.get(URL, {"q": "REFUND"}).content.decode()
    assert "refund please" in html and "Where is my" not in html
    assert len(row_ids(html)) == 1


@pytest.mark.parametrize(
    ("probe", "min_hits"),
    [(10_000, 10), (7, 2), (7, 10**6)],
    ids=["found-among-newest", "found-in-a-window-sized-from-density", "found-through-the-index"],
)
def test_keyset_pages_under_a_text_search_have_no_gaps_or_repeats(
    owner_alice, alice_bare_instance, monkeypatch, probe, min_hits
):
    """Matches spread among non-matching rows, some with equal times; small probes force the other two paths."""
    monkeypatch.setattr(selectors, "TEXT_PROBE_ROWS", probe)
    monkeypatch.setattr(selectors, "TEXT_PROBE_MIN_HITS", min_hits)
    rows = []
    for i in range(60):
        rows += seed(
            alice_bare_instance, 1, at=T0 + dt.timedelta(seconds=i // 3), text=f"refund {i}" if i % 4 else "hi"
        )
    expected = [r.pk for r in sorted(rows, key=lambda r: (r.received_at, r.pk), reverse=True) if "refund" in r.text]
    filters = InboundFilters(text="refund")
    seen, after = [], None
    while True:
        page = inbound_page(account=owner_alice.account, filters=filters, after=after, size=8)
        seen += [r.pk for r in page.rows]
        if page.older is None:
            break
        after = page.older
    assert seen == expected
    back, before = [], page.newer
    while before is not None:
        page = inbound_page(account=owner_alice.account, filters=filters, before=before, size=8)
        back = [r.pk for r in page.rows] + back
        before = page.newer
    assert back + seen[len(back) :] == expected and len(back) >= 8


def test_a_second_window_sized_from_the_density_serves_a_medium_word(
    owner_alice, alice_bare_instance, monkeypatch, django_assert_num_queries
):
    """1 row in 4 matches: 8 newest rows hold 2 matches, not a page of 5; the second window (2 * 8 * 5 / 2 = 40
    rows) holds one, so the trigram index is not asked (two queries)."""
    monkeypatch.setattr(selectors, "TEXT_PROBE_ROWS", 8)
    monkeypatch.setattr(selectors, "TEXT_PROBE_MIN_HITS", 2)
    rows = [seed(alice_bare_instance, 1, at=T0 + dt.timedelta(seconds=i), text="card refund" if i % 4 == 0 else "hi")[0]
            for i in range(80)]  # fmt: skip
    expected = [r.pk for r in reversed(rows) if r.text == "card refund"][:4]
    with django_assert_num_queries(2):
        page = inbound_page(account=owner_alice.account, filters=InboundFilters(text="Card Refund"), size=4)
    assert [r.pk for r in page.rows] == expected and page.older is not None


def test_a_rare_word_older_than_the_probe_window_is_found(owner_alice, alice_bare_instance, monkeypatch):
    monkeypatch.setattr(selectors, "TEXT_PROBE_ROWS", 5)
    seed(alice_bare_instance, 1, at=T0, text="the zebracorn order")
    seed(alice_bare_instance, 30, at=T0 + dt.timedelta(hours=1), text="ordinary")
    assert _texts(owner_alice.account, "zebracorn") == ["the zebracorn order"]


def test_other_filters_apply_to_the_text_search(owner_alice, alice_bare_instance, monkeypatch):
    monkeypatch.setattr(selectors, "TEXT_PROBE_ROWS", 3)
    seed(alice_bare_instance, 4, text="refund", message_type="text")
    seed(alice_bare_instance, 4, at=T0 + dt.timedelta(hours=1), text="refund", message_type="image")
    page = inbound_page(account=owner_alice.account, filters=InboundFilters(text="refund", message_type="text"))
    assert [r.message_type for r in page.rows] == ["text"] * 4


def test_another_accounts_messages_never_match(owner_alice, alice_bare_instance, charlie_bare_instance):
    seed(charlie_bare_instance, 3, text="secret refund")
    assert _texts(owner_alice.account, "refund") == []


@sqlite_only
def test_redacted_and_deleted_bodies_leave_the_sqlite_index(owner_alice, alice_bare_instance):
    kept, redacted, deleted = seed(alice_bare_instance, 3, text="zebracorn")
    InboundMessage.objects.filter(pk=redacted.pk).update(text="", body_redacted_at=T0)
    InboundMessage.objects.filter(pk=deleted.pk).delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT rowid FROM inbound_text_fts WHERE inbound_text_fts MATCH %s", ['"zebracorn"'])
        assert [r[0] for r in cursor.fetchall()] == [kept.pk]
        cursor.execute("INSERT INTO inbound_text_fts(inbound_text_fts, rank) VALUES ('integrity-check', 1)")
    assert _texts(owner_alice.account, "zebracorn") == ["zebracorn"]


@sqlite_only
def test_lost_triggers_are_recreated_and_the_index_rebuilt(owner_alice, alice_bare_instance):
    """Django rebuilds a SQLite table (dropping its triggers) when a migration alters it; post_migrate repairs."""
    with connection.cursor() as cursor:
        for name in ("inbound_text_fts_ai", "inbound_text_fts_ad", "inbound_text_fts_au"):
            cursor.execute(f"DROP TRIGGER {name}")
    seed(alice_bare_instance, 1, text="written while the triggers were gone")
    ensure_text_search_index(connection)
    assert _texts(owner_alice.account, "triggers were gone") == ["written while the triggers were gone"]
    seed(alice_bare_instance, 1, at=T0 + dt.timedelta(hours=1), text="written after the triggers are back")
    assert _texts(owner_alice.account, "triggers are back") == ["written after the triggers are back"]


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="PostgreSQL's trigram index")
def test_postgresql_has_the_trigram_index_and_uses_it_for_a_rare_word(owner_alice, alice_bare_instance):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'inbound_text_trgm_idx'")
        assert "gin_trgm_ops" in cursor.fetchone()[0]
        # Too few rows for the planner to prefer an index by itself: rule out the scans it would pick instead.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        query = InboundMessage.objects.filter(text__icontains="zebracorn").order_by()
        assert "inbound_text_trgm_idx" in query.explain()
