from django.apps import AppConfig


class InstancesConfig(AppConfig):
    name = "whatsapp_gateway.instances"
    label = "instances"

    def ready(self) -> None:
        from whatsapp_gateway import demo
        from whatsapp_gateway.instances import handlers, tabs, views
        from whatsapp_gateway.instances.demo import demo_instance_step
        from whatsapp_gateway.providers import dispatch
        from whatsapp_gateway.providers.base import ConnectionUpdate, QrUpdate

        dispatch.register(ConnectionUpdate, handlers.on_connection_update)
        dispatch.register(QrUpdate, handlers.on_qr_update)
        tabs.register_tab("connection", "Connection", views.connection_tab, order=10)
        demo.register_step(demo_instance_step)
