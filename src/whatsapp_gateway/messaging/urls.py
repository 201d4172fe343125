from django.urls import path

from whatsapp_gateway.messaging import checker_views, views

app_name = "messaging"

urlpatterns = [
    path("message-checker", checker_views.checker_view, name="checker"),
    path("messages", views.log_view, name="log"),
    path("messages/export.csv", views.export_view, name="export"),
    path("messages/<str:message_id>", views.detail_view, name="detail"),
]
