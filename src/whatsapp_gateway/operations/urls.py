from django.urls import path

from whatsapp_gateway.operations import views

app_name = "operations"

urlpatterns = [
    path("metrics", views.metrics_view, name="metrics"),
    path("admin/operations/dashboard/", views.dashboard_view, name="dashboard"),
    path("admin/operations/kill-switch/", views.kill_switch_view, name="kill_switch"),
]
