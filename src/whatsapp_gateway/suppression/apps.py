from django.apps import AppConfig


class SuppressionConfig(AppConfig):
    name = "whatsapp_gateway.suppression"
    label = "suppression"
