from django.apps import AppConfig


class MessageTemplatesConfig(AppConfig):
    # Not "templates": that label would clash with the project's templates/ folder in template lookups.
    name = "whatsapp_gateway.message_templates"
    label = "message_templates"
    verbose_name = "Message templates"
