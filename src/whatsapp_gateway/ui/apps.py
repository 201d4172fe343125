from django.apps import AppConfig


class UiConfig(AppConfig):
    """The portal's design system: template tags (chips, times), error pages, the account time zone."""

    name = "whatsapp_gateway.ui"
    label = "ui"
