from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "whatsapp_gateway.webhooks"
    label = "webhooks"

    def ready(self) -> None:
        from whatsapp_gateway.instances.tabs import register_tab
        from whatsapp_gateway.lib.retention import register_purger
        from whatsapp_gateway.webhooks import (
            delivery,  # noqa: F401 - registers the customer request builder
            sweep,
        )
        from whatsapp_gateway.webhooks.tab import webhook_tab

        register_tab("webhook", "Webhook", webhook_tab, order=20)
        register_purger("webhook_deliveries", sweep.webhooks_purge)
