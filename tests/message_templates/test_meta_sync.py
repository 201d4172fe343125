"""Meta's templates of a Cloud API instance: ``GET /{waba-id}/message_templates`` with paging, on demand from the
templates page and daily; statuses mapped; templates Meta no longer lists kept as disabled."""

from __future__ import annotations

import json

import pytest

from tests.providers.fakes.cloud import WABA_ID
from whatsapp_gateway.accounts.models import AuditLog
from whatsapp_gateway.message_templates import sync
from whatsapp_gateway.message_templates.models import Template
from whatsapp_gateway.message_templates.services import TemplateError
from whatsapp_gateway.providers.cloud import adapter as cloud

pytestmark = pytest.mark.django_db


def meta_rows(instance):
    return {t.name: t for t in Template.objects.filter(instance=instance, source="meta")}


def test_sync_follows_meta_s_paging_and_maps_every_field(cloud_line, fake_cloud, monkeypatch, owner_alice):
    monkeypatch.setattr(cloud, "TEMPLATE_PAGE_SIZE", 2)
    fake_cloud.add_template("order_shipped", "Your order {{1}} has shipped and arrives {{2}}.")
    fake_cloud.add_template("login_code", "{{1}} is your verification code.", category="AUTHENTICATION")
    fake_cloud.add_template("spring_sale", "Spring sale: {{1}} off!", category="MARKETING")
    fake_cloud.add_template(
        "new_terms", "Our terms change on {{1}}.", status="REJECTED", rejected_reason="INVALID_FORMAT"
    )
    fake_cloud.add_template("quality_low", "Your ticket {{1}} was updated.", status="PAUSED")
    fake_cloud.clear()

    result = sync.template_sync(instance=cloud_line, waba_id=WABA_ID, actor=owner_alice.user)

    pages = fake_cloud.calls("GET", f"/v25.0/{WABA_ID}/message_templates")
    assert [p.params.get("after") for p in pages] == [None, "QVFIU2", "QVFIU4"]
    assert pages[0].params["fields"] == cloud.TEMPLATE_FIELDS and pages[0].header("authorization").startswith("Bearer")
    assert (result.created, result.updated, result.removed, result.total) == (5, 0, 0, 5)
    rows = meta_rows(cloud_line)
    shipped = rows["order_shipped"]
    assert (shipped.account, shipped.language, shipped.category, shipped.status) == (
        owner_alice.account,
        "en",
        "utility",
        "approved",
    )
    assert shipped.body == "Your order {{1}} has shipped and arrives {{2}}." and shipped.meta_template_id
    assert rows["login_code"].category == "authentication"
    assert rows["spring_sale"].category == "marketing"
    assert (rows["new_terms"].status, rows["new_terms"].rejection_reason) == ("rejected", "INVALID_FORMAT")
    assert rows["quality_low"].status == "paused"
    cloud_line.refresh_from_db()
    assert json.loads(cloud_line.provider_credentials)["waba_id"] == WABA_ID  # remembered for the daily sync
    assert AuditLog.objects.get(action="template.synced").metadata["created"] == 5


def test_a_second_sync_updates_changes_and_disables_what_meta_no_longer_lists(cloud_line, fake_cloud):
    shipped = fake_cloud.add_template("order_shipped", "Your order {{1}} has shipped.")
    fake_cloud.add_template("old_one", "This old template {{1}} is gone.")
    sync.template_sync(instance=cloud_line, waba_id=WABA_ID)
    shipped["status"] = "PAUSED"
    fake_cloud.templates[WABA_ID] = [shipped]

    result = sync.template_sync(instance=cloud_line)  # the remembered account id

    assert (result.created, result.updated, result.removed) == (0, 1, 1)
    rows = meta_rows(cloud_line)
    assert rows["order_shipped"].status == "paused"
    assert (rows["old_one"].status, rows["old_one"].rejection_reason) == ("disabled", sync.GONE_REASON)


def test_meta_s_refusal_is_a_readable_error(cloud_line, fake_cloud):
    with pytest.raises(TemplateError, match="Meta did not list the templates"):
        sync.template_sync(instance=cloud_line, waba_id="999999999")
    with pytest.raises(TemplateError, match="WhatsApp Business account ID"):
        sync.template_sync(instance=cloud_line)


def test_only_cloud_instances_have_meta_templates(alice_sandbox_instance):
    with pytest.raises(TemplateError, match="Cloud API"):
        sync.template_sync(instance=alice_sandbox_instance, waba_id=WABA_ID)


@pytest.fixture
def alice_sandbox_instance(owner_alice):
    from whatsapp_gateway.instances.models import Instance

    return Instance.objects.create(account=owner_alice.account, name="sandbox-line", provider="sandbox")


def test_the_daily_job_syncs_every_cloud_instance_with_a_known_account(cloud_line, fake_cloud):
    fake_cloud.add_template("order_shipped", "Your order {{1}} has shipped.")
    assert sync.template_sync_all() == {"synced": 0, "failed": 0}  # no account id known yet
    sync.template_sync(instance=cloud_line, waba_id=WABA_ID)
    fake_cloud.add_template("login_code", "{{1}} is your verification code.", category="AUTHENTICATION")

    from whatsapp_gateway.message_templates.tasks import template_sync_daily_task

    template_sync_daily_task.call_local()

    assert set(meta_rows(cloud_line)) == {"order_shipped", "login_code"}


class TestSyncButton:
    def test_an_admin_syncs_from_the_templates_page(self, alice_client, cloud_line, fake_cloud):
        fake_cloud.add_template("order_shipped", "Your order {{1}} has shipped.")
        page = alice_client.get("/templates")
        assert 'data-testid="sync-templates"' in page.content.decode()

        response = alice_client.post(
            "/templates/sync", {"instance": cloud_line.public_id, "waba_id": WABA_ID}, follow=True
        )

        assert "Synced 1 template(s) from Meta for cloud-line" in response.content.decode()
        assert "order_shipped" in response.content.decode()

    def test_meta_s_error_is_shown(self, alice_client, cloud_line, fake_cloud):
        response = alice_client.post(
            "/templates/sync", {"instance": cloud_line.public_id, "waba_id": "999999999"}, follow=True
        )
        assert "Meta did not list the templates" in response.content.decode()

    def test_a_member_cannot_sync(self, bob_client, cloud_line):
        assert bob_client.post("/templates/sync", {"instance": cloud_line.public_id}).status_code == 403

    def test_another_account_s_instance_cannot_be_synced(self, client, outsider_charlie, cloud_line, fake_cloud):
        client.force_login(outsider_charlie.user)
        response = client.post("/templates/sync", {"instance": cloud_line.public_id, "waba_id": WABA_ID}, follow=True)
        assert not Template.objects.exists()
        assert "Select a valid choice" in response.content.decode()
