from django.apps import AppConfig


class PagesConfig(AppConfig):
    name = "whatsapp_gateway.pages"
    label = "pages"
