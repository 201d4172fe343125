"""Huey signal handlers: job metrics and a log context (job name and id) for every background job."""

from __future__ import annotations

import threading
import time

from huey import signals as S

from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib import logs, metrics
from whatsapp_gateway.webhooks.models import Endpoint

_started = threading.local()
_connected = False


def _stack() -> list:
    if not hasattr(_started, "stack"):
        _started.stack = []
    return _started.stack


def _task_name(task) -> str:
    return getattr(task, "name", type(task).__name__)


# Jobs about one instance or one webhook endpoint, and the argument holding its primary key: their log lines carry
# that instance's (or endpoint's) public id and its account's, so an operator can follow one instance across workers.
_SUBJECTS: dict[str, tuple[str, str]] = {
    "send_lane_run": ("instance", "instance_id"),
    "provider_history_reconcile_task": ("instance", "instance_pk"),
    "sandbox_qr_rotate_task": ("instance", "instance_pk"),
    "webhook_deliver": ("endpoint", "endpoint_id"),
}


def _subject_fields(task) -> dict[str, str]:
    """``account_id`` / ``instance_id`` (/ ``endpoint_id``) of the job's subject; empty when unknown."""
    spec = _SUBJECTS.get(_task_name(task))
    if spec is None:
        return {}
    kind, name = spec
    try:
        args, kwargs = task.data or ((), {})
        pk = kwargs.get(name, args[0] if args else None)
        if pk is None:
            return {}
        if kind == "instance":
            row = Instance.objects.filter(pk=pk).values_list("account__public_id", "public_id").first()
            return {"account_id": row[0], "instance_id": row[1]} if row else {}
        row = (
            Endpoint.objects.filter(pk=pk).values_list("account__public_id", "instance__public_id", "public_id").first()
        )
        return {"account_id": row[0], "instance_id": row[1], "endpoint_id": row[2]} if row else {}
    except Exception:  # log context must never stop a job (e.g. the database is briefly unreachable)
        return {}


def _on_executing(signal, task, *args, **kwargs) -> None:
    token = logs.push_context(job=_task_name(task), job_id=getattr(task, "id", None), **_subject_fields(task))
    _stack().append((getattr(task, "id", None), time.perf_counter(), token))


def _on_finished(signal, task, *args, **kwargs) -> None:

    stack = _stack()
    seconds = None
    # Jobs run inline (immediate mode) can nest; unwind to this task's entry.
    while stack and any(entry[0] == getattr(task, "id", None) for entry in stack):
        task_id, started, token = stack.pop()
        logs.pop_context(token)
        if task_id == getattr(task, "id", None):
            seconds = time.perf_counter() - started
            break
    outcome = {S.SIGNAL_COMPLETE: "complete", S.SIGNAL_ERROR: "error", S.SIGNAL_RETRYING: "retrying"}.get(
        signal, signal
    )
    metrics.job_recorded(task=_task_name(task), outcome=outcome, seconds=seconds)


def connect() -> None:
    """Attach the handlers to the project's Huey instance once per process."""
    global _connected
    if _connected:
        return
    from huey.contrib.djhuey import HUEY

    HUEY.signal(S.SIGNAL_EXECUTING)(_on_executing)
    HUEY.signal(S.SIGNAL_COMPLETE, S.SIGNAL_ERROR, S.SIGNAL_CANCELED, S.SIGNAL_EXPIRED, S.SIGNAL_INTERRUPTED)(
        _on_finished
    )
    _connected = True
