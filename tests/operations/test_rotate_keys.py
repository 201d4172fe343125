"""``whatsapp-gateway rotate-keys``: every encrypted value is re-encrypted with the first key."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken
from django.db import connection

from whatsapp_gateway.cli import main
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.operations.services import encrypted_fields, encryption_keys_rotate


def _raw(instance: Instance, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM instances_instance WHERE id = %s", [instance.pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_it_finds_every_encrypted_field():
    names = {f"{model._meta.label}.{field.name}" for model, field in encrypted_fields()}
    assert {"instances.Instance.provider_credentials", "instances.Instance.callback_token"} <= names


def test_values_written_with_the_old_key_are_re_encrypted_with_the_new_one(owner_alice, settings):
    old_key = settings.GATEWAY_ENCRYPTION_KEYS[0]
    instance = Instance.objects.create(
        account=owner_alice.account, name="line-1", provider_credentials='{"apikey": "k"}', callback_token="tok"
    )
    new_key = Fernet.generate_key().decode()
    settings.GATEWAY_ENCRYPTION_KEYS = [new_key, old_key]
    report = encryption_keys_rotate()
    assert report.values >= 2
    for column in ("provider_credentials", "callback_token"):
        Fernet(new_key.encode()).decrypt(_raw(instance, column).encode())
        try:
            Fernet(old_key.encode()).decrypt(_raw(instance, column).encode())
            raise AssertionError("still readable with the old key")
        except InvalidToken:
            pass
    settings.GATEWAY_ENCRYPTION_KEYS = [new_key]
    instance.refresh_from_db()
    assert instance.provider_credentials == '{"apikey": "k"}'
    assert instance.callback_token == "tok"


def test_the_command_reports_what_it_re_encrypted(owner_alice, capsys):
    Instance.objects.create(account=owner_alice.account, name="line-1", callback_token="tok")
    main(["rotate-keys"])
    out = capsys.readouterr().out
    assert "Re-encrypted" in out
    assert "instances.Instance.callback_token" in out
