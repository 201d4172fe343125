from django.urls import path

from whatsapp_gateway.providers import views
from whatsapp_gateway.providers.cloud import views as cloud_views

app_name = "providers"

urlpatterns = [
    path("providers/<str:provider>/callback/<str:token>", views.callback, name="callback"),
    path("instances/<str:instance_id>/cloud-setup", cloud_views.cloud_setup_view, name="cloud_setup"),
]
