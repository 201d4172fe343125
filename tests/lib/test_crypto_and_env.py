from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from whatsapp_gateway.lib import crypto
from whatsapp_gateway.lib.env import env_bool, env_int, env_str


def test_encrypted_values_round_trip_and_rotate(settings):
    old = Fernet.generate_key().decode()
    settings.GATEWAY_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("s3cret")
    assert "s3cret" not in token
    new = Fernet.generate_key().decode()
    settings.GATEWAY_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(token) == "s3cret"
    rotated = crypto.rotate(token)
    settings.GATEWAY_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "s3cret"
    with pytest.raises(ValueError):
        crypto.decrypt(token)


def test_env_helpers_are_strict(monkeypatch, tmp_path):
    monkeypatch.setenv("WG_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured):
        env_bool("WG_FLAG")
    monkeypatch.setenv("WG_NUM", "ten")
    with pytest.raises(ImproperlyConfigured):
        env_int("WG_NUM", 1)
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("WG_SECRET_FILE", str(secret_file))
    assert env_str("WG_SECRET") == "from-file"
