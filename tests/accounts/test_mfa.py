"""TOTP two-factor authentication end to end: activate with a code computed from the shown secret, then every
login needs a code; recovery codes work once each."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
import time_machine
from django.utils import timezone

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def totp_code(secret: str, *, at: float | None = None) -> str:
    """RFC 6238 (SHA-1, 30 s, 6 digits), written here rather than borrowed from allauth so the test is independent."""
    counter = int(time.time() if at is None else at) // 30
    digest = hmac.new(base64.b32decode(secret, casefold=True), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def log_in(client, email="alice@example.com", password=PASSWORD):
    return client.post("/accounts/login/", {"login": email, "password": password})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def activate_totp(client) -> tuple[str, list[str]]:
    """Walk the real pages: reauthenticate, read the secret, confirm with a code, read the recovery codes."""
    response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(response["Location"], {"password": PASSWORD}, follow=True)
    html = response.content.decode()
    assert "Activate Authenticator App" in html
    secret = re.search(r'id="authenticator_secret"[^>]*value="([A-Z2-7]+)"', html)
    assert secret, "the activation page shows the secret"
    secret = secret.group(1)
    response = client.post("/accounts/2fa/totp/activate/", {"code": totp_code(secret)}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == "/accounts/2fa/recovery-codes/"
    codes_block = re.search(r'<textarea[^>]*id="recovery_codes"[^>]*>(.*?)</textarea>', html, re.S)
    assert codes_block, "the recovery codes are shown after activation"
    return secret, codes_block.group(1).split()


@pytest.fixture
def alice_with_totp(client, owner_alice):
    """Alice, logged in through the form, activates TOTP at a fixed moment; returns (secret, recovery codes)."""
    with time_machine.travel(timezone.now(), tick=False):
        log_in(client)
        secret, codes = activate_totp(client)
    client.post("/accounts/logout/")
    return secret, codes


def test_the_user_menu_links_to_two_factor_settings(alice_client):
    html = alice_client.get("/instances").content.decode()
    assert 'href="/accounts/2fa/"' in html


def test_the_mfa_page_offers_the_authenticator_app(alice_client):
    response = alice_client.get("/accounts/2fa/")
    assert response.status_code == 200
    assert b"Authenticator App" in response.content
    assert b'href="/accounts/2fa/totp/activate/"' in response.content


def test_activating_needs_the_password_again_and_a_valid_code(client, owner_alice):
    from allauth.mfa.models import Authenticator

    log_in(client)
    response = client.get("/accounts/2fa/totp/activate/")
    response = client.post(response["Location"], {"password": PASSWORD}, follow=True)
    response = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert response.status_code == 200
    assert b"Incorrect code." in response.content
    assert not Authenticator.objects.filter(user=owner_alice.user).exists()


def test_activation_with_a_computed_code_enables_totp_and_recovery_codes(client, owner_alice):
    from allauth.mfa.models import Authenticator

    log_in(client)
    _secret, codes = activate_totp(client)
    types = set(Authenticator.objects.filter(user=owner_alice.user).values_list("type", flat=True))
    assert types == {"totp", "recovery_codes"}
    assert len(codes) == 10


def test_after_activation_a_password_alone_does_not_log_in(client, alice_with_totp):
    response = log_in(client)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert not logged_in(client)
    assert client.get("/instances").status_code == 302


def test_a_wrong_code_is_refused(client, alice_with_totp):
    log_in(client)
    response = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert response.status_code == 200
    assert b"Incorrect code." in response.content
    assert not logged_in(client)


def test_the_current_code_completes_the_login(client, alice_with_totp):
    secret, _codes = alice_with_totp
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=2), tick=False):
        log_in(client)
        response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
        assert response.status_code == 302
        assert response["Location"] == "/dashboard"
        assert logged_in(client)


def test_a_recovery_code_logs_in_once(client, alice_with_totp):
    _secret, codes = alice_with_totp
    log_in(client)
    client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert logged_in(client)
    client.post("/accounts/logout/")

    log_in(client)
    response = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert b"Incorrect code." in response.content
    assert not logged_in(client)
    client.post("/accounts/2fa/authenticate/", {"code": codes[1]})
    assert logged_in(client)


def test_deactivating_totp_needs_reauthentication_and_brings_back_password_only_login(client, alice_with_totp):
    from allauth.mfa.models import Authenticator

    secret, _codes = alice_with_totp
    with time_machine.travel(timezone.now() + timezone.timedelta(minutes=2), tick=False):
        log_in(client)
        client.post("/accounts/2fa/authenticate/", {"code": totp_code(secret)})
        response = client.get("/accounts/2fa/totp/deactivate/")
        assert response.status_code == 302 and "reauthenticate" in response["Location"]
        client.post("/accounts/reauthenticate/", {"password": PASSWORD})
        response = client.post("/accounts/2fa/totp/deactivate/")
        assert response.status_code == 302
    assert not Authenticator.objects.filter(user__email="alice@example.com", type="totp").exists()
    client.post("/accounts/logout/")
    log_in(client)
    assert logged_in(client)
