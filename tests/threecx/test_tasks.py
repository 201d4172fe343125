"""Housekeeping: expired ledgers and the event log's retention."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.retention import purgers, retention_run
from whatsapp_gateway.threecx.models import IntegrationEvent, RateWindow
from whatsapp_gateway.threecx.tasks import threecx_prune


@pytest.mark.django_db
def test_old_rate_windows_are_pruned(post_native, integration):
    start = now()
    with time_machine.travel(start, tick=False):
        post_native({"event_type": "test"})
    assert RateWindow.objects.count() == 1
    with time_machine.travel(start + dt.timedelta(minutes=5), tick=False):
        assert threecx_prune()["rate_windows"] == 1


@pytest.mark.django_db
def test_the_event_log_is_deleted_after_the_metadata_retention_period(post_native, integration, settings):
    assert "threecx_events" in purgers()
    start = now()
    with time_machine.travel(start, tick=False):
        post_native({"event_type": "test"})
    with time_machine.travel(start + dt.timedelta(days=settings.GATEWAY_RETENTION_METADATA_DAYS - 1), tick=False):
        retention_run()
        assert IntegrationEvent.objects.count() == 1
    with time_machine.travel(start + dt.timedelta(days=settings.GATEWAY_RETENTION_METADATA_DAYS + 1), tick=False):
        result = retention_run()
    assert result["threecx_events"] == {"deleted": 1}
    assert not IntegrationEvent.objects.exists()
