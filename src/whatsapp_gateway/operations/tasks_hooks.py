"""Huey signal handlers: job metrics and a log context (job name and id) for every background job."""

from __future__ import annotations

import threading
import time

from huey import signals as S

from whatsapp_gateway.operations import logs

_started = threading.local()
_connected = False


def _stack() -> list:
    if not hasattr(_started, "stack"):
        _started.stack = []
    return _started.stack


def _task_name(task) -> str:
    return getattr(task, "name", type(task).__name__)


def _on_executing(signal, task, *args, **kwargs) -> None:
    token = logs.push_context(job=_task_name(task), job_id=getattr(task, "id", None))
    _stack().append((getattr(task, "id", None), time.perf_counter(), token))


def _on_finished(signal, task, *args, **kwargs) -> None:
    from whatsapp_gateway.operations import metrics

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
