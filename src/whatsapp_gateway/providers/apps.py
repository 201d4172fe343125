from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    name = "whatsapp_gateway.providers"
    label = "providers"
