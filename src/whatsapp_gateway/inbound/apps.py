from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "whatsapp_gateway.inbound"
    label = "inbound"

    def ready(self) -> None:
        from whatsapp_gateway.inbound import services
        from whatsapp_gateway.lib.retention import register_purger
        from whatsapp_gateway.providers import base, dispatch

        dispatch.register(base.InboundMessage, services.handle_inbound_message)
        dispatch.register(base.CallEvent, services.handle_call)
        dispatch.register(base.GroupUpdate, services.handle_group_update)
        dispatch.register(base.ConversationUpdate, services.handle_conversation_update)
        register_purger("inbound_messages", services.inbound_purge)
