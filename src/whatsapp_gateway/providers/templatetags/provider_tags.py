"""Template helpers for provider-specific parts of the instance pages."""

from __future__ import annotations

from django import template

from whatsapp_gateway.providers.cloud.setup import cloud_setup_facts
from whatsapp_gateway.providers.forms import CloudSetupForm

register = template.Library()


@register.inclusion_tag("providers/cloud_connection.html", takes_context=True)
def cloud_connection(context, instance):
    """The Cloud API card of the connection tab: set-up form, webhook details, the 24-hour window rule."""
    return {
        "instance": instance,
        "cloud": cloud_setup_facts(instance),
        "form": CloudSetupForm(initial={"phone_number_id": instance.provider_ref}),
        "can_admin": context.get("can_admin", False),
        "csrf_token": context.get("csrf_token"),
    }
