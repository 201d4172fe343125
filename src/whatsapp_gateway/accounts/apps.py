from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "whatsapp_gateway.accounts"
    label = "accounts"
