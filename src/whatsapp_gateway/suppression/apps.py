from django.apps import AppConfig


class SuppressionConfig(AppConfig):
    name = "whatsapp_gateway.suppression"
    label = "suppression"

    def ready(self) -> None:
        from whatsapp_gateway.contacts.signals import lid_resolved
        from whatsapp_gateway.suppression.services import suppressions_attach_phone_of_lid

        lid_resolved.connect(suppressions_attach_phone_of_lid, dispatch_uid="suppression_attach_phone_of_lid")
