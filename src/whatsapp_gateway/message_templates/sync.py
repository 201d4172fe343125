"""Meta's templates of a Cloud API instance, synced into ``Template`` rows (source ``meta``).

The instance's WhatsApp Business account id (``waba_id``) is kept in its provider credentials: entered once on the
templates page, then used by the daily sync. Meta is called outside any transaction; the rows are written in one.
A template Meta no longer lists is kept (messages refer to it) and marked ``disabled``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from whatsapp_gateway.accounts.models import User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.message_templates.models import Template, TemplateCategory, TemplateSource, TemplateStatus
from whatsapp_gateway.message_templates.services import TemplateError, template_cache_invalidate
from whatsapp_gateway.providers.base import ProviderError
from whatsapp_gateway.providers.config import instance_credentials
from whatsapp_gateway.providers.registry import get_provider

logger = logging.getLogger(__name__)

# Meta's template statuses -> ours. Anything unknown is treated as not sendable.
STATUS_FROM_META = {
    "APPROVED": TemplateStatus.APPROVED,
    "PENDING": TemplateStatus.PENDING,
    "IN_APPEAL": TemplateStatus.PENDING,
    "PENDING_DELETION": TemplateStatus.DISABLED,
    "REJECTED": TemplateStatus.REJECTED,
    "PAUSED": TemplateStatus.PAUSED,
    "DISABLED": TemplateStatus.DISABLED,
    "DELETED": TemplateStatus.DISABLED,
    "ARCHIVED": TemplateStatus.DISABLED,
    "LIMIT_EXCEEDED": TemplateStatus.DISABLED,
}
GONE_REASON = "No longer listed by Meta."


@dataclass(frozen=True)
class SyncResult:
    created: int
    updated: int
    removed: int
    total: int


def instance_waba_id(instance: Instance) -> str:
    return str(instance_credentials(instance).get("waba_id") or "")


def _component_text(components: list[Any], kind: str) -> str:
    for component in components:
        if isinstance(component, dict) and str(component.get("type", "")).upper() == kind:
            return str(component.get("text") or "")
    return ""


def _fields(item: dict[str, Any]) -> dict[str, Any] | None:
    name, language = str(item.get("name") or ""), str(item.get("language") or "")
    if not name or not language:
        return None
    components = item.get("components") if isinstance(item.get("components"), list) else []
    category = str(item.get("category") or "").lower()
    status = STATUS_FROM_META.get(str(item.get("status") or "").upper(), TemplateStatus.DISABLED)
    reason = str(item.get("rejected_reason") or "")
    return {
        "name": name[:512],
        "language": language[:15],
        "meta_template_id": str(item.get("id") or "")[:64],
        "category": category if category in TemplateCategory.values else TemplateCategory.MARKETING,
        "status": status,
        "body": _component_text(components, "BODY"),
        "components": components,
        "rejection_reason": "" if reason.upper() in ("", "NONE") else reason[:500],
    }


def template_sync(*, instance: Instance, waba_id: str = "", actor: User | None = None) -> SyncResult:
    """Fetch the templates of the instance's WhatsApp Business account and upsert them. Raises ``TemplateError``
    with a readable message when the instance is not a Cloud API one, has no account id, or Meta refuses."""
    instance = Instance.objects.get(pk=instance.pk)  # the stored account id, as of now
    if instance.provider != "cloud" or instance.deleted_at is not None:
        raise TemplateError("Meta templates exist only for WhatsApp Cloud API instances.")
    waba_id = waba_id.strip() or instance_waba_id(instance)
    if not waba_id:
        raise TemplateError("Enter the WhatsApp Business account ID of this number (Meta's WhatsApp Manager).")
    provider = get_provider("cloud")
    try:
        items = provider.list_message_templates(instance, waba_id=waba_id)
    except ProviderError as exc:
        raise TemplateError(f"Meta did not list the templates: {exc.message}") from exc
    listed = [f for f in (_fields(item) for item in items) if f is not None]
    at = now()
    created = updated = 0
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        credentials = dict(instance_credentials(locked))
        if credentials.get("waba_id") != waba_id:
            credentials["waba_id"] = waba_id
            locked.provider_credentials = json.dumps(credentials)
            locked.save(update_fields=["provider_credentials", "updated_at"])
        existing = {(t.name, t.language): t for t in Template.objects.filter(instance=locked, source="meta")}
        seen = set()
        for fields in listed:
            key = (fields["name"], fields["language"])
            seen.add(key)
            template = existing.get(key)
            if template is None:
                Template.objects.create(
                    account_id=locked.account_id,
                    instance=locked,
                    source=TemplateSource.META,
                    synced_at=at,
                    created_at=at,
                    **fields,
                )
                created += 1
            elif any(getattr(template, k) != v for k, v in fields.items()):
                for k, v in fields.items():
                    setattr(template, k, v)
                template.synced_at = at
                template.save()
                updated += 1
            else:
                Template.objects.filter(pk=template.pk).update(synced_at=at)
        gone = [t.pk for key, t in existing.items() if key not in seen and t.status != TemplateStatus.DISABLED]
        removed = Template.objects.filter(pk__in=gone).update(
            status=TemplateStatus.DISABLED, rejection_reason=GONE_REASON, synced_at=at
        )
        result = SyncResult(created=created, updated=updated, removed=removed, total=len(listed))
        audit_record(
            account=locked.account,
            action="template.synced",
            actor=actor,
            actor_label="" if actor is not None else "daily sync",
            target_type="instance",
            target_id=locked.public_id,
            metadata={"waba_id": waba_id, **result.__dict__},
        )
        template_cache_invalidate(locked.account_id)
    return result


def template_sync_all() -> dict[str, int]:
    """The daily job: every live Cloud instance with a known account id. One failure does not stop the others."""
    counts = {"synced": 0, "failed": 0}
    for instance in Instance.objects.filter(provider="cloud", deleted_at__isnull=True).select_related("account"):
        if not instance_waba_id(instance):
            continue
        try:
            template_sync(instance=instance)
            counts["synced"] += 1
        except TemplateError as exc:
            counts["failed"] += 1
            logger.warning("template sync failed for %s: %s", instance.public_id, exc.message)
    return counts
