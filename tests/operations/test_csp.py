"""Content-Security-Policy on every page; the admin and Swagger UI get inline styles, never inline scripts."""

from __future__ import annotations


def test_portal_pages_allow_only_same_origin_scripts_and_styles(client, db):
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "object-src 'none'" in policy


def test_swagger_ui_and_the_admin_may_use_inline_styles_but_not_inline_scripts(admin_client):
    client = admin_client
    for url in ("/api/docs", "/admin/"):
        response = client.get(url)
        assert response.status_code == 200, url
        policy = response["Content-Security-Policy"]
        assert "style-src 'self' 'unsafe-inline'" in policy
        assert "script-src 'self';" in policy


def test_no_page_needs_an_inline_script(client, db):
    for url in ("/", "/docs", "/docs/responsible-messaging", "/acceptable-use", "/api/docs", "/accounts/login/"):
        html = client.get(url).content.decode()
        for chunk in html.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert "src=" in tag or 'type="application/json"' in tag, f"inline script on {url}: <script{tag}>"


def test_swagger_ui_assets_are_served_from_our_origin(client, db):
    html = client.get("/api/docs").content.decode()
    assert "cdn." not in html
    assert "/static/ninja/swagger-ui-bundle.js" in html


def test_no_template_uses_inline_scripts_styles_or_event_handlers():
    from pathlib import Path

    import whatsapp_gateway

    root = Path(whatsapp_gateway.__file__).parent
    for template in root.rglob("templates/**/*.html"):
        if "admin" in template.parts or template.parent.name == "operations":
            continue  # rendered under the admin's relaxed policy
        html = template.read_text()
        for chunk in html.split("<script")[1:]:
            tag = chunk.split(">", 1)[0]
            assert "src=" in tag or "application/json" in tag, f"inline script in {template}"
        for forbidden in (' style="', " onclick=", " onsubmit=", " onchange=", "javascript:"):
            assert forbidden not in html, f"{forbidden.strip()} in {template} is blocked by the CSP"
