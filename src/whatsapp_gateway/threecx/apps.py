from django.apps import AppConfig


class ThreeCXConfig(AppConfig):
    name = "whatsapp_gateway.threecx"
    label = "threecx"
    verbose_name = "3CX integration"

    def ready(self) -> None:
        from whatsapp_gateway.inbound.hooks import register_forwarder
        from whatsapp_gateway.threecx import delivery
        from whatsapp_gateway.webhooks.delivery import register_kind
        from whatsapp_gateway.webhooks.models import EndpointKind

        # Inbound WhatsApp → 3CX rides the webhook delivery engine (outbox, retries, URL safety, delivery log).
        register_kind(EndpointKind.THREECX, delivery.build_threecx_request, accepts=delivery.threecx_accepts)

        # Runs after opt-out handling for every new inbound message: logs what goes to 3CX (and what does not).
        register_forwarder(delivery.threecx_forward_inbound)

        from whatsapp_gateway.lib.retention import register_purger
        from whatsapp_gateway.threecx.tasks import threecx_events_purge

        register_purger("threecx_events", threecx_events_purge)
