from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "whatsapp_gateway.apikeys"
    label = "apikeys"

    def ready(self) -> None:
        from whatsapp_gateway.apikeys.demo import demo_api_key_step
        from whatsapp_gateway.demo import register_step

        register_step(demo_api_key_step)
