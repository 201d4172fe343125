"""Data retention (docs/api.md "Security and privacy"): message bodies are redacted after ``GATEWAY_RETENTION_BODY_DAYS`` (default 30),
rows with metadata are deleted after ``GATEWAY_RETENTION_METADATA_DAYS`` (default 365).

Each app that stores message data registers a purger in its ``AppConfig.ready()``::

    from whatsapp_gateway.lib.retention import register_purger
    register_purger("inbound_messages", inbound_purge)

A purger is ``fn(*, body_cutoff, metadata_cutoff) -> dict[str, int]``: it redacts bodies of rows older than
``body_cutoff``, deletes rows older than ``metadata_cutoff``, works in bounded batches, is idempotent, and returns
counts (e.g. ``{"redacted": 120, "deleted": 4}``). The daily job (``inbound/tasks.py``) and
``whatsapp-gateway retention`` run them all through ``retention_run``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from whatsapp_gateway.lib.clock import now

logger = logging.getLogger(__name__)

Purger = Callable[..., dict[str, int]]
_PURGERS: dict[str, Purger] = {}


def register_purger(name: str, fn: Purger) -> None:
    _PURGERS[name] = fn


def purgers() -> dict[str, Purger]:
    return dict(_PURGERS)


@dataclass(frozen=True)
class Cutoffs:
    body: dt.datetime
    metadata: dt.datetime


def retention_cutoffs(*, at: dt.datetime, body_days: int, metadata_days: int) -> Cutoffs:
    if body_days < 1 or metadata_days < 1:
        raise ValueError("retention periods must be at least one day")
    # Bodies never outlive metadata: a body period longer than the metadata period is capped by the row's deletion.
    return Cutoffs(body=at - dt.timedelta(days=body_days), metadata=at - dt.timedelta(days=metadata_days))


def retention_run(*, at: dt.datetime | None = None) -> dict[str, dict[str, int]]:
    """Run every registered purger with the cutoffs from settings; returns ``{name: counts}``.

    A failing purger is logged and reported as ``{"error": 1}``; the others still run.
    """
    from django.conf import settings

    cutoffs = retention_cutoffs(
        at=at or now(),
        body_days=settings.GATEWAY_RETENTION_BODY_DAYS,
        metadata_days=settings.GATEWAY_RETENTION_METADATA_DAYS,
    )
    results: dict[str, dict[str, int]] = {}
    for name, fn in sorted(_PURGERS.items()):
        try:
            results[name] = fn(body_cutoff=cutoffs.body, metadata_cutoff=cutoffs.metadata)
        except Exception:  # one app's failure must not stop the others' purges
            logger.exception("retention purger %s failed", name)
            results[name] = {"error": 1}
    logger.info("retention run: %s", results)
    return results
