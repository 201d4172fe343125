from django.apps import AppConfig


class DashboardConfig(AppConfig):
    """The portal's home page: usage against the plan, sends by outcome, webhook health, onboarding."""

    name = "whatsapp_gateway.dashboard"
    label = "dashboard"
