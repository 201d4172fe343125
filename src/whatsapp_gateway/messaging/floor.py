"""The benchmark's floor endpoint, ``POST /api/bench/floor``: routed only when ``GATEWAY_BENCH_FLOOR=1`` (set by
``bench/send_api.py`` for the server it starts; never in production).

It does what every logged send must do and nothing else: authenticate the API key exactly as the send API does,
parse the body with the same reader, and durably write one row as wide as a message-log row in the send's own
write turn. ``send/floor`` CPU is measured against it (docs/benchmarks.md, docs/scaling.md).
"""

from __future__ import annotations

from functools import cache

from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, JsonResponse
from ninja import Router

from whatsapp_gateway.apikeys.auth import ApiKeyAuth
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.write_turn import write_turn
from whatsapp_gateway.messaging.api import read_json_object
from whatsapp_gateway.messaging.models import Message, MessageStatus

router = Router(tags=["Benchmark"], auth=ApiKeyAuth())

FLOOR_TABLE = "bench_floor_row"
_FIELDS = [f for f in Message._meta.concrete_fields if not f.primary_key]


@cache
def _insert_sql(vendor: str) -> str:
    """Creates the floor's table once (the message table's columns, no indexes: the cheapest row of that width)."""
    quote = connection.ops.quote_name
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} AS SELECT * FROM {Message._meta.db_table} WHERE 1 = 0"  # noqa: S608
            )
    except DatabaseError:  # another process created it at the same moment (PostgreSQL's catalog race)
        pass
    return (
        f"INSERT INTO {FLOOR_TABLE} ({', '.join(quote(f.column) for f in _FIELDS)}) "  # noqa: S608 - model columns
        f"VALUES ({', '.join(['%s'] * len(_FIELDS))})"
    )


@router.post("/bench/floor", include_in_schema=False)
def floor_view(request: HttpRequest) -> JsonResponse:
    api_key = request.auth
    payload = read_json_object(request)
    at = now()
    text = payload.get("message") if isinstance(payload.get("message"), str) else ""
    row = Message(
        account_id=api_key.account_id,
        log_id=0,
        api_key_id=api_key.pk,
        source="api",
        purpose=str(payload.get("message_purpose") or "")[:40],
        phone_e164=str(payload.get("phone") or "")[:20],
        instance_ref=str(payload.get("instance_id") or "")[:120],
        text=text,
        status=MessageStatus.VALIDATED,
        created_at=at,
        history=[{"status": MessageStatus.VALIDATED, "at": at.isoformat()}],
    )
    sql = _insert_sql(connection.vendor)
    values = [f.get_db_prep_save(f.pre_save(row, True), connection) for f in _FIELDS]
    with write_turn() as turn:
        turn.finish(sql, values)  # the row carries the commit, as a send's log row does
    return JsonResponse({"success": True, "status": "written"})
