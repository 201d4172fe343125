"""Pins the database work of one send so it cannot silently grow back (bench/send_api.py measures the cost; see
docs/benchmarks.md). Each captured entry is one round trip to the database; on PostgreSQL one may hold several
statements (the write turn sends its last ones in one pipeline, ``lib.pg_batch``), so statements are counted too.

Most tests run inside the test's own transaction, which turns the send's BEGIN/COMMIT into SAVEPOINT/RELEASE (left
out) and keeps the commit out of the turn; ``test_the_whole_accepted_send_*`` runs without it and counts everything
the database is sent."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.messaging.conftest import body
from whatsapp_gateway.messaging import queue
from whatsapp_gateway.messaging.models import Message, SendLane
from whatsapp_gateway.suppression.services import suppression_add

pytestmark = pytest.mark.django_db
POSTGRESQL = connection.vendor == "postgresql"

# the guard's reads (kill switch, instance, suppression of the number and its
# WhatsApp ids, the risk score's 24-hour history: one statement) · log number (the account's lock) and usage snapshot
# (every limit, one statement; on PostgreSQL both in one round trip) · message INSERT, which on PostgreSQL also
# counts the instance's and the account's daily usage and wakes the instance's lane (SQLite: three more
# statements). The API key, its account and plan were read by the request
# before (GATEWAY_API_KEY_CACHE_SECONDS): an integration sending more than once every two seconds reads them no more.
ACCEPTED_SEND_QUERIES = 3 if POSTGRESQL else 7
DRY_RUN_QUERIES = 3 if POSTGRESQL else 4  # nothing counted
BLOCKED_SEND_QUERIES = 3  # suppressed: no usage snapshot, nothing counted


def statements(captured) -> list[str]:
    return [q["sql"] for q in captured if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO"))]


def round_trips(captured) -> list[list[str]]:
    """The statements of each round trip. Django logs COMMIT when it leaves the transaction even when the session is
    already idle because the write turn committed in its last pipeline: psycopg then sends nothing."""
    trips: list[list[str]] = []
    for query in captured:
        sql = query["sql"]
        if sql == "COMMIT" and trips and "COMMIT" in trips[-1]:
            continue
        trips.append([part.strip() for part in sql.split("; ")])
    return trips


def _counted(alice_api, **fields) -> tuple[object, list[str]]:
    for n in range(2):  # the first writes the key's last use and drops its cached row; the second caches it again
        assert alice_api.send(body(phone=f"+96650123009{n}", message=f"First {n}")).status_code == 202
    with CaptureQueriesContext(connection) as captured:
        response = alice_api.send(body(**fields))
    return response, statements(captured.captured_queries)


def test_an_accepted_send_runs_a_fixed_number_of_queries(alice_api, alice_fake_instance):
    response, sql = _counted(alice_api, phone="+966501230001", message="Second")
    assert response.status_code == 202, response.content
    assert len(sql) == ACCEPTED_SEND_QUERIES, "\n".join(sql)
    assert len(round_trips([{"sql": q} for q in sql])) == ACCEPTED_SEND_QUERIES
    assert Message.objects.filter(public_id=response.json()["message_id"]).exists()


def test_a_dry_run_runs_a_fixed_number_of_queries(alice_api, alice_fake_instance):
    response, sql = _counted(alice_api, phone="+966501230001", message="Second", dry_run=True)
    assert response.status_code == 200, response.content
    assert len(sql) == DRY_RUN_QUERIES, "\n".join(sql)
    assert Message.objects.filter(account=alice_fake_instance.account, status="validated").count() == 1


def test_a_blocked_send_runs_a_fixed_number_of_queries(alice_api, alice_fake_instance):
    suppression_add(account=alice_fake_instance.account, phone_e164="+966501230001", reason="blocked")
    response, sql = _counted(alice_api, phone="+966501230001", message="Second")
    assert response.status_code == 403 and response.json()["error"] == "recipient_suppressed", response.content
    assert len(sql) == BLOCKED_SEND_QUERIES, "\n".join(sql)
    assert Message.objects.filter(account=alice_fake_instance.account, status="blocked").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_whole_accepted_send_in_round_trips_and_statements(alice_api, alice_fake_instance, monkeypatch):
    """Outside a test transaction: BEGIN, the commit and, on PostgreSQL, the wait for durability. PostgreSQL: guard
    reads · BEGIN · [log number; usage] · [INSERT + usage counts + lane wake-up; SET LOCAL synchronous_commit;
    COMMIT; flush wait]. SQLite: the same statements one by one, with the two usage upserts and the lane wake-up as
    statements of their own (no durability wait: the commit is durable). Nothing runs after the commit: the lane was woken
    inside the transaction, so there is no second write transaction."""
    monkeypatch.setattr(queue, "_enqueue", lambda instance_id, delay=0: None)  # the lane stays woken, not run
    for n in range(2):
        assert alice_api.send(body(phone=f"+96650123009{n}", message=f"First {n}")).status_code == 202
    with CaptureQueriesContext(connection) as captured:
        response = alice_api.send(body(phone="+966501230001", message="Second"))
    assert response.status_code == 202, response.content
    trips = round_trips(captured.captured_queries)
    listing = "\n".join(" ; ".join(trip) for trip in trips)
    assert (len(trips), sum(map(len, trips))) == ((4, 8) if POSTGRESQL else (9, 9)), listing
    if POSTGRESQL:
        assert trips[-1][1:3] == ["SET LOCAL synchronous_commit TO OFF", "COMMIT"], listing
        assert "txid_current" in trips[-1][3] and "messaging_sendlane" in trips[-1][0], listing
    assert "COMMIT" in trips[-1][-1] or "txid_current" in trips[-1][-1], listing  # nothing after the commit
    assert Message.objects.get(public_id=response.json()["message_id"]).status == "queued"


def test_the_key_last_used_time_is_written_at_most_once_a_minute(alice_api, alice_fake_instance):
    with CaptureQueriesContext(connection) as first:
        alice_api.send(body(phone="+966501230000", message="First"))
    with CaptureQueriesContext(connection) as second:
        alice_api.send(body(phone="+966501230001", message="Second"))
    updates = [sql for sql in statements(first.captured_queries) if sql.startswith('UPDATE "apikeys_apikey"')]
    assert len(updates) == 1
    assert not [sql for sql in statements(second.captured_queries) if "apikeys_apikey" in sql and "UPDATE" in sql]


def test_waking_a_busy_lane_costs_one_query_and_enqueues_nothing(owner_alice, alice_fake_instance, monkeypatch):
    enqueued = []
    monkeypatch.setattr(queue, "_enqueue", lambda instance_id, delay=0: enqueued.append(instance_id))
    queue.lane_wake(instance_id=alice_fake_instance.pk)  # no lane yet: created already woken, one job
    assert enqueued == [alice_fake_instance.pk]
    assert SendLane.objects.get(instance=alice_fake_instance).wakeup_at is not None
    with CaptureQueriesContext(connection) as captured:
        for _ in range(5):
            queue.lane_wake(instance_id=alice_fake_instance.pk)  # a burst of sends: the job is already coming
    assert enqueued == [alice_fake_instance.pk]
    assert len(statements(captured.captured_queries)) == 5


def test_an_idle_lane_is_woken_once(owner_alice, alice_fake_instance, monkeypatch):
    enqueued = []
    monkeypatch.setattr(queue, "_enqueue", lambda instance_id, delay=0: enqueued.append(instance_id))
    SendLane.objects.create(instance=alice_fake_instance)
    queue.lane_wake(instance_id=alice_fake_instance.pk)
    queue.lane_wake(instance_id=alice_fake_instance.pk)
    assert enqueued == [alice_fake_instance.pk]
    # The job clears the wake-up when it runs; the next send wakes the lane again.
    SendLane.objects.filter(instance=alice_fake_instance).update(wakeup_at=None)
    queue.lane_wake(instance_id=alice_fake_instance.pk)
    assert enqueued == [alice_fake_instance.pk, alice_fake_instance.pk]


def test_the_prepared_message_insert_stores_what_save_would(alice_api, alice_fake_instance, monkeypatch):
    """The send path writes its message row with a prepared INSERT (``_message_insert``): every field read back
    from the database equals the object the request built (JSON, dates, booleans, foreign keys, defaults)."""
    from whatsapp_gateway.messaging import services

    built = []
    original = services._message_insert

    def capture(message, **kwargs):
        original(message, **kwargs)
        built.append(message)

    monkeypatch.setattr(services, "_message_insert", capture)
    response = alice_api.send(body(message="Your order #7 has shipped."))
    assert response.status_code == 202
    blocked = alice_api.send(body(message_purpose="marketing"))
    assert blocked.status_code == 422
    for message in built:
        stored = Message.objects.get(pk=message.pk)
        for field in Message._meta.concrete_fields:
            assert getattr(stored, field.attname) == getattr(message, field.attname), field.name
    assert [m.status for m in built] == ["queued", "blocked"]
    assert built[1].block_details == {"field": "message_purpose"} and built[0].public_id.startswith("msg_")


def test_the_prepared_instance_lookup_loads_what_the_orm_would(alice_api, alice_fake_instance):
    """``check_instance`` reads the instance with a prepared statement (``lib.prepared``): the fields it loads equal
    the ORM's, whatever order ``INSTANCE_FIELDS`` lists them in."""
    from whatsapp_gateway.lib import clock
    from whatsapp_gateway.messaging.guard.checks import INSTANCE_FIELDS, check_instance
    from whatsapp_gateway.messaging.guard.context import GuardContext

    type(alice_fake_instance).objects.filter(pk=alice_fake_instance.pk).update(paired_at=clock.now(), is_paused=False)
    for ref in (alice_fake_instance.name, alice_fake_instance.public_id):
        ctx = GuardContext(
            account=alice_fake_instance.account,
            source="api",
            now=clock.now(),
            raw_instance_ref=ref,
            raw_phone="+966501234567",
            raw_text="Hi",
            raw_purpose="support",
        )
        assert check_instance(ctx) is None
        expected = type(alice_fake_instance).objects.get(pk=alice_fake_instance.pk)
        for name in INSTANCE_FIELDS:
            assert getattr(ctx.instance, name) == getattr(expected, name), name
