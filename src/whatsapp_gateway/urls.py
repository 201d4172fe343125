"""Root URLconf. Each app owns its routes; the public JSON API lives under /api/ (Django Ninja)."""

from django.contrib import admin
from django.urls import include, path

from whatsapp_gateway.accounts.operator_access import protect_admin_site
from whatsapp_gateway.api import api, openapi_json

admin.site.site_header = "WhatsApp Gateway — operator back office"
admin.site.site_title = "WhatsApp Gateway operator"
protect_admin_site(admin.site)  # portal login (throttled, TOTP) for the back office; staff must have TOTP

urlpatterns = [
    path("", include("whatsapp_gateway.pages.urls")),
    path("", include("whatsapp_gateway.operations.urls")),  # before admin/: /admin/operations/dashboard/
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("openapi.json", openapi_json, name="openapi_json"),
    path("api/", api.urls),
    path("", include("whatsapp_gateway.dashboard.urls")),
    path("", include("whatsapp_gateway.ui.urls")),
    path("", include("whatsapp_gateway.accounts.urls")),
    path("", include("whatsapp_gateway.instances.urls")),
    path("", include("whatsapp_gateway.apikeys.urls")),
    path("", include("whatsapp_gateway.messaging.urls")),
    path("", include("whatsapp_gateway.message_templates.urls")),
    path("", include("whatsapp_gateway.suppression.urls")),
    path("", include("whatsapp_gateway.inbound.urls")),
    path("", include("whatsapp_gateway.webhooks.urls")),
    path("", include("whatsapp_gateway.threecx.urls")),
    path("", include("whatsapp_gateway.providers.urls")),
]
