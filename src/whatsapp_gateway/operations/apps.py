from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "whatsapp_gateway.operations"
    label = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from whatsapp_gateway.operations import collectors, tasks_hooks

        collectors.register_builtin_queues()
        tasks_hooks.connect()
