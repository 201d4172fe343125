"""Portal view for the Cloud API set-up form on the instance connection tab."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.instances.models import InstanceState
from whatsapp_gateway.instances.selectors import instance_get_for_account
from whatsapp_gateway.lib.client_ip import request_origin
from whatsapp_gateway.providers.cloud.setup import CloudSetupError, cloud_instance_configure
from whatsapp_gateway.providers.forms import CloudSetupForm


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def cloud_setup_view(request: HttpRequest, instance_id: str) -> HttpResponse:
    instance = instance_get_for_account(account=request.account, public_id=instance_id)
    form = CloudSetupForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for field_errors in form.errors.values() for e in field_errors)
        messages.error(request, errors)
    else:
        try:
            instance, override_set = cloud_instance_configure(
                instance=instance, **form.cleaned_data, actor=request.user, **request_origin(request)
            )
        except CloudSetupError as exc:
            messages.error(request, exc.message)
        else:
            if instance.state == InstanceState.CONNECTED:
                messages.success(request, "The Cloud API number is connected.")
            else:
                messages.warning(request, f"Saved, but the number is not usable yet: {instance.state_reason}")
            if not override_set:
                messages.warning(
                    request,
                    "Meta did not accept a webhook for this number: set the callback URL below in your Meta app.",
                )
    return redirect(reverse("instances:manage", args=[instance.public_id]) + "?tab=connection")
