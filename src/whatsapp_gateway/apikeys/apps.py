from django.apps import AppConfig


class ApikeysConfig(AppConfig):
    name = "whatsapp_gateway.apikeys"
    label = "apikeys"

    def ready(self) -> None:
        # models and signal targets are importable only once the apps are loaded
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from whatsapp_gateway.accounts.models import Account, Plan
        from whatsapp_gateway.apikeys.demo import demo_api_key_step
        from whatsapp_gateway.apikeys.models import ApiKey
        from whatsapp_gateway.apikeys.selectors import api_key_cache_clear
        from whatsapp_gateway.demo import register_step

        register_step(demo_api_key_step)
        # A change to a key, its account or plan (as saved through the ORM) drops this process's cached keys at once.
        for model in (ApiKey, Account, Plan):
            post_save.connect(api_key_cache_clear, sender=model, dispatch_uid=f"apikey-cache-save-{model.__name__}")
            post_delete.connect(api_key_cache_clear, sender=model, dispatch_uid=f"apikey-cache-del-{model.__name__}")
        m2m_changed.connect(api_key_cache_clear, sender=ApiKey.instances.through, dispatch_uid="apikey-cache-scope")
