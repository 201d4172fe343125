from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "whatsapp_gateway.contacts"
    label = "contacts"
