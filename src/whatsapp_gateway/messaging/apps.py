from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "whatsapp_gateway.messaging"
    label = "messaging"

    def ready(self) -> None:
        from whatsapp_gateway.instances.tabs import register_notice, register_tab
        from whatsapp_gateway.messaging import views
        from whatsapp_gateway.messaging.services import message_status_callback
        from whatsapp_gateway.providers import dispatch
        from whatsapp_gateway.providers.base import MessageStatusUpdate

        dispatch.register(MessageStatusUpdate, message_status_callback)
        register_tab("test-send", "Test send", views.test_send_tab, order=30)
        register_tab("logs", "Logs", views.logs_tab, order=40)
        register_notice(views.queue_notice)
