from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InboundConfig(AppConfig):
    name = "whatsapp_gateway.inbound"
    label = "inbound"

    def ready(self) -> None:
        from whatsapp_gateway.inbound import services, text_search
        from whatsapp_gateway.lib.retention import register_purger
        from whatsapp_gateway.providers import base, dispatch

        dispatch.register(base.InboundMessage, services.handle_inbound_message)
        dispatch.register(base.CallEvent, services.handle_call)
        dispatch.register(base.GroupUpdate, services.handle_group_update)
        dispatch.register(base.ConversationUpdate, services.handle_conversation_update)
        register_purger("inbound_messages", services.inbound_purge)
        post_migrate.connect(text_search.ensure_after_migrate, sender=self, dispatch_uid="inbound_text_search_index")
