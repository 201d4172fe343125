"""/metrics: protected, labelled by route pattern, with the registry API and database-derived gauges."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from whatsapp_gateway.lib import metrics, metrics_files
from whatsapp_gateway.operations.services import sending_set_enabled


def _samples(response) -> dict[tuple[str, tuple], float]:
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_it_answers_404_without_the_token_or_an_allowed_address(client, db, settings):
    settings.METRICS_TOKEN = "scrape-token-123"
    settings.METRICS_ALLOWED_IPS = []
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-123").status_code == 200


def test_an_allowlisted_network_may_scrape_without_a_token(client, db, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.1").status_code == 404


def test_requests_are_counted_by_route_pattern_not_raw_path(alice_client, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    route = "/account/members/<str:membership_id>/role/"
    labels = {"route": route, "method": "POST", "status": "404"}
    before = _value(_samples(alice_client.get("/metrics")), "gateway_http_requests_total", **labels)
    alice_client.post("/account/members/mem_doesnotexist00000000/role/", {"role": "admin"})
    samples = _samples(alice_client.get("/metrics"))
    assert _value(samples, "gateway_http_requests_total", **labels) == before + 1
    assert not any("mem_doesnotexist" in str(key) for key in samples)


def test_other_apps_record_sends_provider_calls_and_deliveries(client, db, settings):
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    before = _samples(client.get("/metrics"))
    metrics.send_recorded(outcome="blocked", code="recipient_suppressed", source="api")
    metrics.webhook_delivery_recorded(outcome="sent", seconds=0.12)
    try:
        with metrics.provider_call(provider="sandbox", operation="send_text"):
            raise TimeoutError
    except TimeoutError:
        pass
    after = _samples(client.get("/metrics"))

    def delta(name, **labels):
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("gateway_sends_total", outcome="blocked", code="recipient_suppressed", source="api") == 1
    assert delta("gateway_webhook_deliveries_total", outcome="sent") == 1
    assert delta("gateway_webhook_delivery_duration_seconds_count", outcome="sent") == 1
    assert delta("gateway_provider_calls_total", provider="sandbox", operation="send_text", outcome="error") == 1


def test_database_gauges_show_instance_states_and_the_kill_switch(client, owner_alice, settings):
    from whatsapp_gateway.instances.models import Instance

    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    Instance.objects.create(account=owner_alice.account, name="line-1", state="connected")
    Instance.objects.create(account=owner_alice.account, name="line-2", state="pairing")
    samples = _samples(client.get("/metrics"))
    assert _value(samples, "gateway_instances", state="connected") == 1
    assert _value(samples, "gateway_instances", state="pairing") == 1
    assert _value(samples, "gateway_sending_enabled") == 1
    assert ("gateway_job_broker_pending", ()) in samples
    sending_set_enabled(enabled=False, reason="incident")
    assert _value(_samples(client.get("/metrics")), "gateway_sending_enabled") == 0


def test_metric_files_of_dead_processes_are_pruned(tmp_path):
    (tmp_path / "counter_999999999.db").write_bytes(b"")
    import os

    (tmp_path / f"counter_{os.getpid()}.db").write_bytes(b"")
    assert metrics_files.prune_dead_process_files(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == [f"counter_{os.getpid()}.db"]
