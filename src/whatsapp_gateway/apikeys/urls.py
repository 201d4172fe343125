from django.urls import path

from whatsapp_gateway.apikeys import views

app_name = "apikeys"

urlpatterns = [
    path("api-keys", views.list_view, name="list"),
    path("api-keys/<str:key_id>/revoke", views.revoke_view, name="revoke"),
]
