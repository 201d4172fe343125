from django.urls import path

from whatsapp_gateway.threecx import views
from whatsapp_gateway.threecx.api import threecx_api

app_name = "threecx"

urlpatterns = [
    # The public webhook (Django Ninja, in /openapi.json): /integrations/3cx/webhook/{integration_id}
    path("integrations/3cx/", threecx_api.urls),
    path("integrations/3cx", views.list_view, name="list"),
    path("integrations/3cx/new", views.create_view, name="create"),
    path("integrations/3cx/<str:integration_id>", views.detail_view, name="detail"),
    path("integrations/3cx/<str:integration_id>/edit", views.edit_view, name="edit"),
    path("integrations/3cx/<str:integration_id>/rotate-secret", views.rotate_secret_view, name="rotate_secret"),
    path("integrations/3cx/<str:integration_id>/rotate-api-key", views.rotate_api_key_view, name="rotate_api_key"),
    path("integrations/3cx/<str:integration_id>/status", views.status_view, name="status"),
    path("integrations/3cx/<str:integration_id>/delete", views.delete_view, name="delete"),
    path("integrations/3cx/<str:integration_id>/dids", views.did_add_view, name="did_add"),
    path("integrations/3cx/<str:integration_id>/dids/remove", views.did_remove_view, name="did_remove"),
    path("integrations/3cx/<str:integration_id>/crm-template.xml", views.crm_template_view, name="crm_template"),
    path("integrations/3cx/<str:integration_id>/events", views.events_view, name="events"),
    path("integrations/3cx/<str:integration_id>/send-test", views.send_test_view, name="send_test"),
    path(
        "integrations/3cx/<str:integration_id>/resume-forwarding",
        views.resume_forwarding_view,
        name="resume_forwarding",
    ),
]
