"""Portal pages for templates: the list (both sources), submit for review (also prefilled from a blocked message
or from the message checker), and edit + resubmit."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from whatsapp_gateway.accounts.decorators import portal_view
from whatsapp_gateway.accounts.models import Role
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.message_templates.forms import TemplateForm, TemplateSyncForm, suggest_name
from whatsapp_gateway.message_templates.models import TemplateSource, TemplateStatus
from whatsapp_gateway.message_templates.selectors import template_get_for_account, template_list
from whatsapp_gateway.message_templates.services import TemplateError, template_resubmit, template_submit
from whatsapp_gateway.message_templates.sync import instance_waba_id, template_sync
from whatsapp_gateway.messaging.selectors import message_get_for_account


def _cloud_instances(account) -> list[Instance]:
    return list(Instance.objects.filter(account=account, provider="cloud", deleted_at__isnull=True).order_by("name"))


@portal_view()
@require_http_methods(["GET"])
def list_view(request: HttpRequest) -> HttpResponse:
    templates = list(template_list(account=request.account).order_by("source", "name", "language"))
    cloud = _cloud_instances(request.account)
    sync_form = None
    if cloud and request.membership.has_role(Role.ADMIN):
        sync_form = TemplateSyncForm(instances=cloud, initial={"waba_id": instance_waba_id(cloud[0])})
    return render(
        request,
        "message_templates/list.html",
        {
            "active_nav": "templates",
            "reviewed": [t for t in templates if t.source == TemplateSource.REVIEWED],
            "meta": [t for t in templates if t.source == TemplateSource.META],
            "sync_form": sync_form,
            "has_cloud": bool(cloud),
        },
    )


@portal_view(minimum_role=Role.ADMIN)
@require_POST
def sync_view(request: HttpRequest) -> HttpResponse:
    """Fetch Meta's templates of one Cloud API instance now (the daily job does the same for all of them)."""
    cloud = _cloud_instances(request.account)
    form = TemplateSyncForm(request.POST, instances=cloud)
    if not form.is_valid():
        messages.error(request, "; ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("message_templates:list")
    instance = next(i for i in cloud if i.public_id == form.cleaned_data["instance"])
    try:
        result = template_sync(instance=instance, waba_id=form.cleaned_data["waba_id"] or "", actor=request.user)
    except TemplateError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Synced {result.total} template(s) from Meta for {instance.name}: {result.created} new, "
            f"{result.updated} changed, {result.removed} no longer listed.",
        )
    return redirect("message_templates:list")


def _prefill(request: HttpRequest) -> dict[str, str]:
    """Initial values: ``?message=<id>`` takes the text of one of the account's messages (404 otherwise); a POST
    with ``prefill=1`` and ``text`` (the message checker's button) takes that text."""
    if request.method == "POST":
        text = request.POST.get("text", "")[:4096].strip()
        return {"body": text, "name": suggest_name(text)}
    message_id = request.GET.get("message", "")
    if not message_id:
        return {}
    message = message_get_for_account(account=request.account, public_id=message_id)
    return {"body": message.text, "name": suggest_name(message.text), "from_message": message.public_id}


@portal_view()
@require_http_methods(["GET", "POST"])
def new_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("prefill") != "1":
        form = TemplateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                template = template_submit(
                    account=request.account,
                    actor=request.user,
                    name=data["name"],
                    language=data["language"],
                    category=data["category"],
                    body=data["body"],
                    use_case=data["use_case"],
                    from_message=data["from_message"],
                )
            except TemplateError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(
                    request,
                    f"{template.name} was sent for review. You will get an email when an operator decides.",
                )
                return redirect("message_templates:list")
    else:
        form = TemplateForm(initial={"language": "en", "category": "utility", **_prefill(request)})
    return render(
        request,
        "message_templates/form.html",
        {"active_nav": "templates", "form": form, "template": None},
        status=400 if form.is_bound else 200,
    )


@portal_view()
@require_http_methods(["GET", "POST"])
def edit_view(request: HttpRequest, template_id: str) -> HttpResponse:
    template = template_get_for_account(account=request.account, public_id=template_id)
    if template.source != TemplateSource.REVIEWED or template.status == TemplateStatus.DISABLED:
        messages.error(request, "This template cannot be edited here.")
        return redirect("message_templates:list")
    if request.method == "POST":
        form = TemplateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                template_resubmit(
                    template=template,
                    actor=request.user,
                    name=data["name"],
                    language=data["language"],
                    category=data["category"],
                    body=data["body"],
                    use_case=data["use_case"],
                )
            except TemplateError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"{data['name']} was sent for review again.")
                return redirect("message_templates:list")
    else:
        form = TemplateForm(
            initial={
                "name": template.name,
                "language": template.language,
                "category": template.category,
                "body": template.body,
                "use_case": template.use_case,
            }
        )
    return render(
        request,
        "message_templates/form.html",
        {"active_nav": "templates", "form": form, "template": template},
        status=400 if form.is_bound else 200,
    )
