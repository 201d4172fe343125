from django.urls import path

from whatsapp_gateway.message_templates import views

app_name = "message_templates"

urlpatterns = [
    path("templates", views.list_view, name="list"),
    path("templates/new", views.new_view, name="new"),
    path("templates/sync", views.sync_view, name="sync"),
    path("templates/<str:template_id>/edit", views.edit_view, name="edit"),
]
