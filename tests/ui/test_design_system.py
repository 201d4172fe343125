"""The portal frame: design system assets, styled error pages, account time zone, chips and the admin favicon."""

from __future__ import annotations

import datetime as dt

import pytest
from django.template import Context, Template
from django.template.loader import get_template
from django.test import RequestFactory
from django.utils import timezone

pytestmark = pytest.mark.django_db


def test_every_page_loads_the_design_system_htmx_and_our_dialog(alice_client):
    html = alice_client.get("/instances").content.decode()
    for asset in (
        "/static/bootstrap/css/bootstrap.min.css",
        "/static/css/app.css",
        "/static/bootstrap/js/bootstrap.bundle.min.js",
        "/static/django_htmx/htmx-2.min.js",
        "/static/js/portal.js",
    ):
        assert asset in html, asset
        assert alice_client.get(asset).status_code == 200, asset
    assert 'id="confirm-dialog"' in html
    # The collapsing navigation: a menu button that controls the sidebar.
    assert 'data-bs-target="#sidebar"' in html and 'id="sidebar"' in html


def test_no_page_uses_the_browsers_confirm():
    from pathlib import Path

    js = (Path(__file__).resolve().parents[2] / "src/whatsapp_gateway/static/js/portal.js").read_text()
    assert "showModal" in js


@pytest.mark.parametrize("signed_in", [False, True])
def test_404_is_styled_inside_the_frame_with_a_way_back(owner_alice, signed_in):
    from django.test import Client

    client = Client()
    if signed_in:
        client.force_login(owner_alice.user)
    response = client.get("/no-such-page")
    html = response.content.decode()
    assert response.status_code == 404
    assert 'data-testid="error-page"' in html and "Page not found" in html
    assert "/static/css/app.css" in html
    assert ('href="/dashboard"' in html) is signed_in
    assert ('href="/"' in html) is not signed_in


def test_500_page_renders_without_a_request_context():
    html = get_template("500.html").render({})
    assert "Something went wrong on our side" in html and 'href="/"' in html


@pytest.mark.parametrize("name,text", [("400.html", "could not be understood"), ("403.html", "do not have access")])
def test_400_and_403_pages(rf, name, text):
    assert text in get_template(name).render({}, rf.get("/"))


def test_admin_has_the_favicon(rf):
    # Every admin page extends admin/base_site.html, which the portal overrides to add the icon.
    html = get_template("admin/mfa_required.html").render({}, rf.get("/admin/"))
    assert "/static/favicon.svg" in html


def test_times_render_in_the_account_zone_with_utc_on_hover(alice_client, owner_alice):
    owner_alice.account.timezone = "Asia/Riyadh"
    owner_alice.account.save()
    from whatsapp_gateway.accounts.models import AuditLog

    entry = AuditLog.objects.create(account=owner_alice.account, actor_label="x", action="test.action")
    AuditLog.objects.filter(pk=entry.pk).update(created_at=dt.datetime(2026, 1, 2, 21, 30, 5, 123456, tzinfo=dt.UTC))
    html = alice_client.get("/account/audit-log/").content.decode()
    assert '<time datetime="2026-01-02T21:30:05Z" title="2026-01-02 21:30:05 UTC">2026-01-03 00:30:05</time>' in html
    assert "123456" not in html


def test_when_tag_precision_and_empty():
    template = Template('{% load ui_tags %}{% when a precision="minutes" %}|{% when b empty="never" %}')
    with timezone.override("Europe/Berlin"):
        out = template.render(Context({"a": dt.datetime(2026, 7, 1, 10, 0, 59, tzinfo=dt.UTC), "b": None}))
    assert ">2026-07-01 12:00</time>" in out and "never" in out


def test_chip_truncates_with_the_full_value_on_hover_and_a_copy_button():
    out = Template("{% load ui_tags %}{% chip value %}").render(Context({"value": "inst_abc<def>"}))
    assert 'class="chip"' in out and 'title="inst_abc&lt;def&gt;"' in out
    assert 'data-copy-text="inst_abc&lt;def&gt;"' in out and "<def>" not in out


@pytest.mark.parametrize("value,expected", [(0, "w-0"), (1, "w-5"), (37, "w-35"), (99, "w-100"), (250, "w-100")])
def test_width_class(value, expected):
    from whatsapp_gateway.ui.templatetags.ui_tags import width_class

    assert width_class(value) == expected


def test_members_page_shows_pending_invitations(alice_client, owner_alice, rf):
    from whatsapp_gateway.accounts.services import member_invite

    request = rf.post("/account/members/")
    request.user = owner_alice.user
    member_invite(account=owner_alice.account, email="new.person@example.com", role="member", request=request)
    html = alice_client.get("/account/members/").content.decode()
    assert html.count('data-testid="pending-invite"') == 1 and "new.person@example.com" in html


def test_the_verification_page_says_where_a_laptops_emails_go(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = "/tmp/gateway-mail"
    html = get_template("account/verification_sent.html").render(
        {"mail_folder": settings.EMAIL_FILE_PATH}, RequestFactory().get("/")
    )
    assert "/tmp/gateway-mail" in html and "Verify Your Email Address" in html
