from django.urls import path

from whatsapp_gateway.inbound import views

app_name = "inbound"

urlpatterns = [
    path("inbound-logs", views.list_view, name="list"),
    path("inbound-logs/export.csv", views.export_view, name="export"),
    path("inbound-logs/<str:message_id>", views.detail_view, name="detail"),
]
