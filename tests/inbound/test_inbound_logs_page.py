"""/inbound-logs: filters, keyset pages, masking and reveal, detail, CSV export, isolation and query count."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re

import pytest

from tests.factories import make_instance
from tests.inbound.helpers import deliver, text_event
from tests.isolation import assert_other_account_gets_404
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.inbound.selectors import Cursor, InboundFilters, inbound_page

URL = "/inbound-logs"
T0 = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


_seq = itertools.count()


def seed(instance, n, *, at=T0, step=dt.timedelta(seconds=1), **fields):
    """``n`` rows, newest last; ``step=0`` gives them all the same timestamp."""
    rows = [
        InboundMessage(
            account_id=instance.account_id,
            instance=instance,
            provider_message_id=f"SEED{next(_seq)}",
            sender_phone=fields.get("sender_phone", f"+9665123{i % 10000:05d}"),
            sender_name="Seed",
            message_type=fields.get("message_type", "text"),
            text=fields.get("text", f"message {i}"),
            is_opt_out=fields.get("is_opt_out", False),
            received_at=at + step * i,
        )
        for i in range(n)
    ]
    return InboundMessage.objects.bulk_create(rows)


def row_ids(html):
    return re.findall(r'href="/inbound-logs/(in_[a-z0-9]+)', html)


def test_the_list_shows_messages_with_masked_senders(alice_client, alice_bare_instance):
    deliver(alice_bare_instance, text_event("Hello there", phone="+966512345678"))
    response = alice_client.get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hello there" in html and "+9665****5678" in html and "+966512345678" not in html
    assert "support-line" in html and "Text" in html and "no 3CX" in html and "3CX forwarding" in html


def test_an_admin_reveals_numbers_with_a_post_that_is_audited_once(alice_client, alice_bare_instance):
    deliver(alice_bare_instance, text_event("Hello", phone="+966512345678"))
    # A GET alone (a prefetch, a bookmarked ?reveal=1, the page refreshing itself) shows masked numbers, records nothing.
    assert "+966512345678" not in alice_client.get(URL, {"reveal": "1"}).content.decode()
    assert not AuditLog.objects.filter(action="inbound.numbers_revealed").exists()
    answer = alice_client.post("/reveal-numbers", {"scope": "inbound", "next": URL})
    assert answer.status_code == 302 and answer["Location"] == f"{URL}?reveal=1"
    assert "+966512345678" in alice_client.get(answer["Location"]).content.decode()
    row = InboundMessage.objects.get()
    assert "+966512345678" in alice_client.get(f"{URL}/{row.public_id}", {"reveal": "1"}).content.decode()
    entries = AuditLog.objects.filter(action="inbound.numbers_revealed")
    assert entries.count() == 1 and entries.get().target_id == URL


def test_a_member_sees_masked_numbers_even_when_asking_to_reveal(bob_client, alice_bare_instance):
    deliver(alice_bare_instance, text_event("Hello", phone="+966512345678"))
    html = bob_client.get(URL, {"reveal": "1"}).content.decode()
    assert "+966512345678" not in html and "Reveal numbers" not in html
    assert not AuditLog.objects.filter(action="inbound.numbers_revealed").exists()


def test_filters_narrow_the_list(alice_client, owner_alice, alice_bare_instance):
    other = make_instance(owner_alice.account, name="sales-line", connected=True, phone_number="+966500000002")
    deliver(alice_bare_instance, text_event("Where is my order?", phone="+966512345678", at=T0))
    deliver(other, text_event("Invoice please", phone="+966512345679", at=T0 + dt.timedelta(days=2)))
    deliver(
        alice_bare_instance, text_event("", phone="+966512345679", message_type="image", at=T0 + dt.timedelta(days=3))
    )
    deliver(alice_bare_instance, text_event("STOP", phone="+966512345670", at=T0 + dt.timedelta(days=4)))

    def texts(**params):
        return alice_client.get(URL, params).content.decode()

    assert "Invoice please" in texts(instance=other.public_id) and "Where is my order" not in texts(
        instance=other.public_id
    )
    in_range = texts(date_from="2026-11-22", date_to="2026-11-23")
    assert "Invoice please" in in_range and "Where is my order" not in in_range and "[image]" in in_range
    by_sender = texts(sender="0512345679")  # national format, the account's country
    assert "Invoice please" in by_sender and "[image]" in by_sender and "Where is my order" not in by_sender
    assert "Invoice please" in texts(sender="5679") and "Where is my order" not in texts(sender="5679")
    assert "[image]" in texts(type="image") and "Invoice please" not in texts(type="image")
    assert "Where is my order" in texts(q="ORDER") and "Invoice" not in texts(q="ORDER")
    opt_outs = texts(opt_outs="on")
    assert "STOP" in opt_outs and "Invoice please" not in opt_outs
    assert "No messages match these filters" in texts(q="nothing like this")


def test_an_end_date_before_the_start_date_is_explained(alice_client, alice_bare_instance):
    html = alice_client.get(URL, {"date_from": "2026-11-23", "date_to": "2026-11-20"}).content.decode()
    assert "The end date is before the start date" in html


def test_dates_are_days_in_the_accounts_timezone(alice_client, owner_alice, alice_bare_instance):
    owner_alice.account.timezone = "Asia/Riyadh"  # UTC+3
    owner_alice.account.save()
    deliver(alice_bare_instance, text_event("late evening UTC", at=dt.datetime(2026, 11, 20, 22, 30, tzinfo=dt.UTC)))
    assert (
        "late evening UTC"
        in alice_client.get(URL, {"date_from": "2026-11-21", "date_to": "2026-11-21"}).content.decode()
    )
    assert "late evening UTC" not in alice_client.get(URL, {"date_to": "2026-11-20"}).content.decode()


@pytest.mark.parametrize("step", [dt.timedelta(seconds=1), dt.timedelta(0)], ids=["distinct-times", "equal-times"])
def test_keyset_pages_have_no_gaps_or_repeats(owner_alice, alice_bare_instance, step):
    rows = seed(alice_bare_instance, 137, step=step)
    expected = [r.pk for r in sorted(rows, key=lambda r: (r.received_at, r.pk), reverse=True)]
    filters = InboundFilters()

    seen, after, pages = [], None, 0
    while True:
        page = inbound_page(account=owner_alice.account, filters=filters, after=after, size=20)
        seen += [r.pk for r in page.rows]
        pages += 1
        if page.older is None:
            break
        after = page.older
    assert seen == expected and pages == 7

    # and back again, newest-first pages going towards the start
    back, before = [], page.newer
    while before is not None:
        page = inbound_page(account=owner_alice.account, filters=filters, before=before, size=20)
        back = [r.pk for r in page.rows] + back
        before = page.newer
    assert back + seen[-(137 - 120) :] == expected


def test_pages_through_the_portal_follow_the_links(alice_client, alice_bare_instance):
    seed(alice_bare_instance, 120, step=dt.timedelta(0))
    html = alice_client.get(URL).content.decode()
    first = row_ids(html)
    older = re.search(r'href="\?([^"]*after=[^"]+)"', html).group(1).replace("&amp;", "&")
    html2 = alice_client.get(f"{URL}?{older}").content.decode()
    second = row_ids(html2)
    assert len(first) == 50 and len(second) == 50 and not set(first) & set(second)
    assert "← Newer" in html2 and "Newest" in html2


def test_a_broken_cursor_is_ignored():
    assert Cursor.decode("not-a-cursor!!") is None
    assert Cursor.decode("x" * 100) is None
    cursor = Cursor(received_at=T0, pk=42)
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize(
    "params", [{}, {"type": "text"}, {"instance": "!"}, {"opt_outs": "on", "sender": "+966512300001"}]
)
def test_the_list_issues_a_constant_number_of_queries(
    alice_client, owner_alice, alice_bare_instance, django_assert_max_num_queries, django_assert_num_queries, params
):
    if params.get("instance") == "!":
        params = {"instance": alice_bare_instance.public_id}
    seed(alice_bare_instance, 5)
    alice_client.get(URL)  # warm the session
    # session, user, membership, instances for the filter menu, one page of rows (+ the shell's own few)
    with django_assert_max_num_queries(8) as few:
        alice_client.get(URL, params)
    other = make_instance(owner_alice.account, name="sales-line", connected=True, phone_number="+966500000002")
    seed(alice_bare_instance, 50, at=T0 + dt.timedelta(days=1))
    with django_assert_num_queries(len(few.captured_queries)):
        alice_client.get(URL, params)
    seed(alice_bare_instance, 400, at=T0 + dt.timedelta(days=2), sender_phone="+966512300001", is_opt_out=True)
    seed(other, 400, at=T0 + dt.timedelta(days=3))
    with django_assert_num_queries(len(few.captured_queries)):
        response = alice_client.get(URL, params)
    assert len(row_ids(response.content.decode())) == 50
    deep = Cursor(received_at=T0 + dt.timedelta(days=2, seconds=200), pk=10**9).encode()
    with django_assert_num_queries(len(few.captured_queries)):
        response = alice_client.get(URL, {**params, "after": deep})
    assert len(row_ids(response.content.decode())) == 50


def test_a_text_search_issues_at_most_two_more_queries_whatever_the_number_of_rows(
    alice_client, owner_alice, alice_bare_instance, django_assert_max_num_queries
):
    """The text search looks for a page among the newest rows first, then in a wider window or the trigram index
    (selectors._fetch): one to three queries for the rows, never more as the log grows."""
    seed(alice_bare_instance, 5, text="hello")
    alice_client.get(URL, {"q": "warm"})  # the session, and the once-per-connection check for the SQLite index
    with django_assert_max_num_queries(8) as base:
        alice_client.get(URL)
    ceiling = len(base.captured_queries) + 2
    # (rows added, their word, the search, rows on the page): a few matches, a full page, a common word in a big
    # log (found among the newest rows), a rare word in it (found through the index), no match at all.
    cases = [(5, "refund", "refund", 5), (800, "refund", "REFUND", 50), (3, "zebracorn", "zebracorn", 3)]
    for day, (n, word, search, expected) in enumerate(cases, start=1):
        seed(alice_bare_instance, n, at=T0 - dt.timedelta(days=day), text=f"please {word} now")
        with django_assert_max_num_queries(ceiling):
            response = alice_client.get(URL, {"q": search})
        assert len(row_ids(response.content.decode())) == expected
    with django_assert_max_num_queries(ceiling):
        response = alice_client.get(URL, {"q": "xylophone"})
    assert row_ids(response.content.decode()) == []


def test_the_detail_page_shows_the_message_and_its_ids(alice_client, alice_bare_instance):
    deliver(
        alice_bare_instance,
        text_event(
            "Hi", phone="+966512345678", sender_id="103899771998284@lid", lid="103899771998284@lid", message_id="3AX"
        ),
    )
    row = InboundMessage.objects.get()
    html = alice_client.get(f"{URL}/{row.public_id}").content.decode()
    assert row.public_id in html and "3AX" in html and "+9665****5678" in html and "1038****284@lid" in html
    assert "1 in / 0 out" in html


def test_another_account_gets_404_for_a_message(charlie_client, alice_bare_instance):
    deliver(alice_bare_instance, text_event("Hi"))
    row = InboundMessage.objects.get()
    assert_other_account_gets_404(charlie_client, f"{URL}/{row.public_id}")
    assert_other_account_gets_404(charlie_client, f"{URL}/{row.public_id}?reveal=1")


def test_an_unknown_message_id_is_404(alice_client):
    assert alice_client.get(f"{URL}/in_doesnotexist").status_code == 404


def test_another_accounts_messages_never_appear(charlie_client, alice_bare_instance):
    deliver(alice_bare_instance, text_event("Alice's customer"))
    assert "Alice&#x27;s customer" not in charlie_client.get(URL).content.decode()
    text = b"".join(charlie_client.get(f"{URL}/export.csv").streaming_content).decode("utf-8-sig")
    assert "customer" not in text


def test_another_accounts_instance_id_as_a_filter_shows_nothing_of_theirs(charlie_client, alice_bare_instance):
    deliver(alice_bare_instance, text_event("Alice's customer"))
    params = {"instance": alice_bare_instance.public_id, "q": "customer"}
    response = charlie_client.get(URL, params)
    assert response.status_code == 200 and row_ids(response.content.decode()) == []
    text = b"".join(charlie_client.get(f"{URL}/export.csv", params).streaming_content).decode("utf-8-sig")
    assert "customer" not in text and alice_bare_instance.public_id not in text


def test_the_csv_export_streams_the_filtered_set(alice_client, alice_bare_instance):
    seed(alice_bare_instance, 2500, text="bulk")
    deliver(alice_bare_instance, text_event("=cmd|' /C calc'!A0", phone="+966512345678"))
    response = alice_client.get(f"{URL}/export.csv", {"q": "bulk"})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 2500 and {r["text"] for r in rows} == {"bulk"}
    assert rows[0]["sender"].startswith("+9665")  # admins get full numbers
    everything = list(
        csv.DictReader(
            io.StringIO(b"".join(alice_client.get(f"{URL}/export.csv").streaming_content).decode("utf-8-sig"))
        )
    )
    assert len(everything) == 2501 and everything[0]["text"].startswith("'=")  # formula neutralised
    assert AuditLog.objects.filter(action="inbound.exported").count() == 2


def test_members_export_masked_numbers(bob_client, alice_bare_instance):
    deliver(alice_bare_instance, text_event("Hi", phone="+966512345678"))
    text = b"".join(bob_client.get(f"{URL}/export.csv").streaming_content).decode("utf-8-sig")
    assert "+9665****5678" in text and "+966512345678" not in text


def test_pages_need_login(client):
    assert client.get(URL).status_code == 302
    assert client.get(f"{URL}/export.csv").status_code == 302
