from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_text_search_index(sender, using: str = "default", **kwargs) -> None:
    """Re-create the SQLite trigram triggers if a later migration rebuilt the inbound table (``text_search.py``)."""
    from django.db import connections

    from whatsapp_gateway.inbound.text_search import ensure_text_search_index

    ensure_text_search_index(connections[using])


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
        post_migrate.connect(_ensure_text_search_index, sender=self, dispatch_uid="inbound_text_search_index")
