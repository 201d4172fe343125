from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "whatsapp_gateway.messaging"
    label = "messaging"

    def ready(self) -> None:
        from whatsapp_gateway.accounts.signals import account_resumed
        from whatsapp_gateway.instances.signals import instance_resumed
        from whatsapp_gateway.instances.tabs import register_notice, register_tab
        from whatsapp_gateway.messaging import queue, views
        from whatsapp_gateway.messaging.lifecycle import message_status_callback
        from whatsapp_gateway.providers import dispatch
        from whatsapp_gateway.providers.base import MessageStatusUpdate

        dispatch.register(MessageStatusUpdate, message_status_callback)
        account_resumed.connect(queue.on_account_resumed, dispatch_uid="messaging_wake_resumed_account")
        instance_resumed.connect(queue.on_instance_resumed, dispatch_uid="messaging_wake_resumed_instance")
        register_tab("test-send", "Test send", views.test_send_tab, order=30)
        register_tab("logs", "Logs", views.logs_tab, order=40)
        register_notice(views.queue_notice)
