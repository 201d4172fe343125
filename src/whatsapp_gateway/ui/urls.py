from django.urls import path

from whatsapp_gateway.ui import views

app_name = "ui"

urlpatterns = [
    path("reveal-numbers", views.reveal_view, name="reveal"),
]
