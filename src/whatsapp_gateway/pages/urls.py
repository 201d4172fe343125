from django.urls import path

from whatsapp_gateway.pages import views

app_name = "pages"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("acceptable-use", views.acceptable_use, name="acceptable_use"),
    path("docs", views.docs_index, name="docs"),
    path("docs/", views.docs_index),
    path("docs/sdk/python", views.docs_sdk_python, name="docs_sdk_python"),
    path("docs/responsible-messaging", views.responsible_messaging, name="responsible_messaging"),
]
