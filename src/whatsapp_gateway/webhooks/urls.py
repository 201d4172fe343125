from django.urls import path

from whatsapp_gateway.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("docs/webhooks", views.docs_webhooks, name="docs"),
    path("instances/<str:instance_id>/webhook/deliveries", views.instance_deliveries, name="instance_deliveries"),
    path("webhooks/<str:endpoint_id>/deliveries", views.endpoint_deliveries, name="endpoint_deliveries"),
    path("webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>", views.delivery_detail, name="delivery_detail"),
    path(
        "webhooks/<str:endpoint_id>/deliveries/<str:delivery_id>/resend", views.delivery_resend, name="delivery_resend"
    ),
    path("webhooks/<str:endpoint_id>/resend-failed", views.resend_failed, name="resend_failed"),
    path("webhooks/events/<str:event_id>", views.event_detail, name="event_detail"),
]
