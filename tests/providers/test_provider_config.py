"""Operator configuration of the real providers: environment variables, the admin site's ProviderConfig (secrets
encrypted, write-only, audited) overriding them, and which providers customers may pick per instance."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from tests.factories import enable_totp, make_instance
from whatsapp_gateway.accounts.models import AuditLog, User
from whatsapp_gateway.instances.forms import InstanceCreateForm
from whatsapp_gateway.instances.services import InstanceError, instance_create
from whatsapp_gateway.providers.config import provider_settings
from whatsapp_gateway.providers.models import ProviderConfig
from whatsapp_gateway.providers.registry import allowed_provider_names, get_provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    staff = User.objects.create_superuser(username="ops@example.com", email="ops@example.com", password="x" * 12)
    client.force_login(enable_totp(staff))
    return client


def test_settings_come_from_the_environment(settings):
    settings.WAHA_BASE_URL, settings.WAHA_API_KEY = "http://waha.internal:3000", "env-key"
    config = provider_settings("waha")
    assert (config.base_url, config.secret("api_key"), config.enabled) == ("http://waha.internal:3000", "env-key", True)


def test_the_admin_site_overrides_the_environment(settings):
    settings.EVOLUTION_BASE_URL, settings.EVOLUTION_API_KEY = "http://env:8080", "env-key"
    ProviderConfig.objects.create(
        provider="evolution",
        base_url="https://evo.example.com",
        secrets=json.dumps({"api_key": "admin-key"}),
        options={"server_timezone": "America/Sao_Paulo"},
    )
    config = provider_settings("evolution")
    assert (config.base_url, config.secret("api_key"), config.option("server_timezone")) == (
        "https://evo.example.com",
        "admin-key",
        "America/Sao_Paulo",
    )


def test_an_empty_admin_value_keeps_the_environment_value(settings):
    settings.CLOUD_APP_SECRET = "env-secret"
    ProviderConfig.objects.create(provider="cloud", secrets=json.dumps({"access_token": "admin-token"}))
    config = provider_settings("cloud")
    assert (config.secret("access_token"), config.secret("app_secret")) == ("admin-token", "env-secret")


def test_adapters_use_the_admin_configuration_without_a_restart(owner_alice, fake_evolution, settings):
    settings.EVOLUTION_API_KEY = "stale-env-key"
    ProviderConfig.objects.create(provider="evolution", secrets=json.dumps({"api_key": fake_evolution.api_key}))
    result = get_provider("evolution").create_instance(make_instance(owner_alice.account, provider="evolution"))
    assert result.credentials["token"]
    assert fake_evolution.requests[0].header("apikey") == fake_evolution.api_key


def test_the_admin_form_stores_secrets_encrypted_and_never_shows_them(operator_client):
    response = operator_client.post(
        "/admin/providers/providerconfig/add/",
        {
            "provider": "waha",
            "enabled": "on",
            "base_url": "https://waha.example.com",
            "secret_api_key": "super-secret-master-key",
            "secret_webhook_hmac_key": "hmac-secret-value",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    config = ProviderConfig.objects.get(provider="waha")
    assert json.loads(config.secrets) == {"api_key": "super-secret-master-key", "webhook_hmac_key": "hmac-secret-value"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM providers_providerconfig WHERE id = %s", [config.pk])
        assert "super-secret-master-key" not in cursor.fetchone()[0]
    page = operator_client.get(f"/admin/providers/providerconfig/{config.pk}/change/").content.decode()
    assert "super-secret-master-key" not in page and "hmac-secret-value" not in page
    assert "stored — leave empty to keep" in page
    entry = AuditLog.objects.get(action="provider_config.created")
    assert entry.target_id == "waha" and entry.metadata["secrets_set"] == ["api_key", "webhook_hmac_key"]
    assert "super-secret-master-key" not in json.dumps(entry.metadata)


def test_saving_with_empty_secret_fields_keeps_the_stored_secrets(operator_client):
    config = ProviderConfig.objects.create(provider="cloud", secrets=json.dumps({"access_token": "kept-token"}))
    response = operator_client.post(
        f"/admin/providers/providerconfig/{config.pk}/change/",
        {"provider": "cloud", "enabled": "on", "base_url": "", "option_api_version": "v26.0"},
    )
    assert response.status_code == 302
    config.refresh_from_db()
    assert json.loads(config.secrets) == {"access_token": "kept-token"}
    assert config.options == {"api_version": "v26.0"}
    assert AuditLog.objects.get(action="provider_config.updated").metadata["secrets_set"] == []


def test_secrets_can_be_cleared(operator_client):
    config = ProviderConfig.objects.create(provider="cloud", secrets=json.dumps({"access_token": "old"}))
    operator_client.post(
        f"/admin/providers/providerconfig/{config.pk}/change/",
        {"provider": "cloud", "enabled": "on", "clear_secrets": "on"},
    )
    config.refresh_from_db()
    assert config.secrets == ""
    assert AuditLog.objects.get(action="provider_config.updated").metadata["secrets_cleared"] is True


def test_the_admin_form_refuses_secrets_another_provider_uses(operator_client):
    response = operator_client.post(
        "/admin/providers/providerconfig/add/",
        {"provider": "evolution", "enabled": "on", "secret_app_secret": "meta-secret"},
    )
    assert response.status_code == 200 and "This provider does not use this secret." in response.content.decode()
    assert not ProviderConfig.objects.exists()


def test_the_admin_form_checks_the_time_zone(operator_client):
    response = operator_client.post(
        "/admin/providers/providerconfig/add/",
        {"provider": "evolution", "enabled": "on", "option_server_timezone": "Mars/Olympus"},
    )
    assert "Not a known IANA time zone." in response.content.decode()


def test_customers_may_pick_the_providers_the_operator_allows(settings):
    settings.GATEWAY_PROVIDER = "evolution"
    settings.GATEWAY_PROVIDERS_ALLOWED = ["evolution", "cloud", "sandbox"]
    settings.GATEWAY_SELECTABLE_PROVIDERS = []
    assert allowed_provider_names() == ["evolution", "cloud", "sandbox"]
    choices = dict(InstanceCreateForm().fields["provider"].choices)
    assert list(choices) == ["evolution", "cloud", "sandbox"]


def test_a_provider_disabled_in_the_admin_is_not_offered(settings):
    settings.GATEWAY_PROVIDER = "sandbox"
    settings.GATEWAY_PROVIDERS_ALLOWED = ["sandbox", "waha", "cloud"]
    ProviderConfig.objects.create(provider="waha", enabled=False)
    assert allowed_provider_names() == ["sandbox", "cloud"]


def test_the_default_provider_is_always_allowed(settings):
    settings.GATEWAY_PROVIDER = "waha"
    settings.GATEWAY_PROVIDERS_ALLOWED = []
    settings.GATEWAY_SELECTABLE_PROVIDERS = []
    ProviderConfig.objects.create(provider="waha", enabled=False)
    assert allowed_provider_names() == ["waha"]


def test_creating_an_instance_on_a_provider_that_is_not_allowed_is_refused(owner_alice, settings):
    settings.GATEWAY_PROVIDER = "sandbox"
    settings.GATEWAY_PROVIDERS_ALLOWED = ["sandbox"]
    settings.GATEWAY_SELECTABLE_PROVIDERS = []
    with pytest.raises(InstanceError):
        instance_create(account=owner_alice.account, name="x", provider="cloud")


def test_the_portal_creates_an_instance_on_the_chosen_provider(alice_client, settings, fake_cloud):
    settings.GATEWAY_PROVIDER = "sandbox"
    settings.GATEWAY_PROVIDERS_ALLOWED = ["sandbox", "cloud"]
    response = alice_client.post("/instances/new", {"name": "meta-line", "provider": "cloud"})
    assert response.status_code == 302
    from whatsapp_gateway.instances.models import Instance

    instance = Instance.objects.get(name="meta-line")
    assert instance.provider == "cloud" and "verify_token" in json.loads(instance.provider_credentials)


def test_the_admin_form_has_a_field_for_every_provider_setting():
    from whatsapp_gateway.providers.admin import ALL_OPTIONS, ALL_SECRETS, ProviderConfigForm

    fields = set(ProviderConfigForm().fields)
    assert {f"secret_{k}" for k in ALL_SECRETS} | {f"option_{k}" for k in ALL_OPTIONS} <= fields


def test_the_admin_list_shows_which_secrets_are_stored_not_their_values(operator_client):
    ProviderConfig.objects.create(provider="cloud", secrets=json.dumps({"access_token": "hidden-token-value"}))
    page = operator_client.get("/admin/providers/providerconfig/").content.decode()
    assert "access_token" in page and "hidden-token-value" not in page
