"""Instance writes: lifecycle (create, rename, delete), pairing (connect, restart, log out), the connection state
machine and reconciliation with the provider.

Every state change goes through ``instance_transition``: it validates against ``ALLOWED_TRANSITIONS``, locks the
row, records an ``InstanceStateChange`` and writes the ``instance.*`` events in the same transaction.
Provider calls (network) happen outside database transactions.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from whatsapp_gateway.accounts.models import Account, User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.instances.models import (
    ALLOWED_TRANSITIONS,
    Instance,
    InstanceState,
    InstanceStateChange,
)
from whatsapp_gateway.instances.signals import instance_resumed
from whatsapp_gateway.lib import phone as phone_lib
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import keyed_hash
from whatsapp_gateway.lib.errors import PortalError
from whatsapp_gateway.providers.base import ConnectResult, ProviderError
from whatsapp_gateway.providers.registry import (
    UnknownProvider,
    allowed_provider_names,
    default_provider_name,
    get_provider,
)
from whatsapp_gateway.webhooks.outbox import event_emit

logger = logging.getLogger(__name__)

S = InstanceState
# Leaving "connected" for one of these tells customers the number went offline (instance.disconnected).
OFFLINE_STATES = frozenset({S.DISCONNECTED, S.LOGGED_OUT, S.FAILED})
# A pairing attempt whose QR expired this long ago without a new one is restarted by the reconcile job.
STUCK_PAIRING_GRACE = dt.timedelta(seconds=60)


class InstanceError(PortalError):
    """A refused instance action; ``message`` is shown to the person who asked."""


class InstanceLimitReached(InstanceError):
    pass


class InstanceNameTaken(InstanceError):
    pass


class InstanceTransitionRefused(InstanceError):
    def __init__(self, from_state: str, to_state: str) -> None:
        super().__init__(f"An instance cannot go from {from_state} to {to_state}.")
        self.from_state = from_state
        self.to_state = to_state


class InstanceActionFailed(InstanceError):
    """The provider refused or failed an action (connect, restart, log out)."""


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _clean_name(name: str) -> str:
    cleaned = (name or "").strip().lower()
    try:
        validate_slug(cleaned)
    except ValidationError as exc:
        raise InstanceError("Use letters, digits, hyphens and underscores only (e.g. support-line).") from exc
    if not cleaned or len(cleaned) > 64:
        raise InstanceError("The name must be 1 to 64 characters.")
    if cleaned.startswith("inst_"):
        raise InstanceError("Names cannot start with inst_ (that prefix is for instance ids).")
    return cleaned


def _name_taken(account: Account, name: str, *, exclude_pk: int | None = None) -> bool:
    qs = Instance.objects.filter(account=account, name=name, deleted_at__isnull=True)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def instance_create(
    *,
    account: Account,
    name: str,
    provider: str | None = None,
    any_provider: bool = False,
    actor: User | None = None,
    client_ip: str | None = None,
    user_agent: str = "",
) -> Instance:
    """Create an instance for ``account`` (plan limit ``max_instances``; name unique among live instances).

    ``provider`` defaults to ``GATEWAY_PROVIDER``; another one only when the operator allows it
    (``GATEWAY_PROVIDERS_ALLOWED`` / ``GATEWAY_SELECTABLE_PROVIDERS``, not disabled in the admin site)
    (or with ``any_provider=True``: operator tools such as the demo set-up and the admin).
    Generates the per-instance callback token (stored as a keyed hash for lookup and encrypted), then asks the
    provider to create its side outside the transaction; a provider failure leaves the instance ``failed``.
    """
    name = _clean_name(name)
    provider_name = provider or default_provider_name()
    selectable = provider_name in allowed_provider_names()
    if not (selectable or any_provider):
        raise InstanceError("This provider is not available for new instances.")
    try:
        provider_impl = get_provider(provider_name)
    except UnknownProvider as exc:
        raise InstanceError("This provider is not available for new instances.") from exc

    with transaction.atomic():
        # Lock the account row so two concurrent creates cannot both pass the plan limit.
        locked_account = Account.objects.select_for_update().select_related("plan").get(pk=account.pk)
        live = Instance.objects.filter(account=locked_account, deleted_at__isnull=True).count()
        limit = locked_account.plan.max_instances
        if live >= limit:
            raise InstanceLimitReached(
                f"Your plan allows {limit} instance{'s' if limit != 1 else ''}. Delete one or ask for a larger plan."
            )
        if _name_taken(locked_account, name):
            raise InstanceNameTaken(f"You already have an instance named {name}.")
        token = secrets.token_urlsafe(32)
        instance = Instance.objects.create(
            account=locked_account,
            name=name,
            provider=provider_name,
            callback_token=token,
            callback_token_hash=keyed_hash(token, purpose="callback"),
        )
        audit_record(
            account=locked_account,
            action="instance.created",
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
            target_type="instance",
            target_id=instance.public_id,
            metadata={"name": name},
        )

    try:
        result = provider_impl.create_instance(instance)
    except ProviderError as exc:
        logger.warning("provider %s could not create instance %s: %s", provider_name, instance.public_id, exc.message)
        return instance_transition(
            instance=instance, to_state=S.FAILED, reason=f"The provider could not create it: {exc.message}"[:200]
        )
    instance.provider_ref = result.provider_ref
    instance.provider_credentials = json.dumps(result.credentials) if result.credentials else ""
    instance.save(update_fields=["provider_ref", "provider_credentials", "updated_at"])
    return instance


@transaction.atomic
def instance_rename(
    *, instance: Instance, name: str, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> Instance:
    """Rename; the new name must be unique among the account's live instances. Audit-logged."""
    name = _clean_name(name)
    locked = Instance.objects.select_for_update().get(pk=instance.pk)
    if name == locked.name:
        return locked
    if _name_taken(locked.account, name, exclude_pk=locked.pk):
        raise InstanceNameTaken(f"You already have an instance named {name}.")
    previous = locked.name
    locked.name = name
    locked.save(update_fields=["name", "updated_at"])
    audit_record(
        account=locked.account,
        action="instance.renamed",
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
        target_type="instance",
        target_id=locked.public_id,
        metadata={"from": previous, "to": name},
    )
    instance.name = name
    return locked


def instance_delete(
    *, instance: Instance, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> None:
    """Soft-delete: the instance disappears from the portal and the API (``invalid_instance``), its callback token
    stops working and its name is free again. Then the provider's side is deleted (failures are logged only)."""
    with transaction.atomic():
        locked = Instance.objects.select_for_update().get(pk=instance.pk)
        if locked.deleted_at is not None:
            return
        locked.deleted_at = now()
        locked.callback_token_hash = None
        locked.save(update_fields=["deleted_at", "callback_token_hash", "updated_at"])
        audit_record(
            account=locked.account,
            action="instance.deleted",
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
            target_type="instance",
            target_id=locked.public_id,
            metadata={"name": locked.name},
        )
    instance.deleted_at = locked.deleted_at
    try:
        get_provider(locked.provider).delete_instance(locked)
    except (ProviderError, UnknownProvider) as exc:
        logger.warning("provider could not delete instance %s: %s", locked.public_id, exc)


def instance_transition(
    *,
    instance: Instance,
    to_state: str,
    reason: str = "",
    phone_number: str | None = None,
    profile_name: str | None = None,
    qr_payload: str | None = None,
    pairing_code: str | None = None,
    qr_expires_at: dt.datetime | None = None,
) -> Instance:
    """Move ``instance`` to ``to_state`` and tell customers.

    Runs in a transaction and locks the instance row. Raises ``InstanceTransitionRefused`` for a transition not in
    ``ALLOWED_TRANSITIONS``. Staying in the same state is not a transition: it only updates the given details
    (and, in ``pairing``, a new QR code or pairing code emits ``instance.qr_updated``). A real change records an
    ``InstanceStateChange`` and emits ``instance.connection_updated`` plus ``instance.connected`` (entering
    ``connected``) or ``instance.disconnected`` (leaving ``connected`` for disconnected/logged_out/failed).
    Entering ``connected`` sets ``paired_at`` on the first pairing of a number (warm-up counts from it) and counts
    a reconnect otherwise. Returns the updated instance (the passed object is refreshed too).
    """
    to_state = InstanceState(to_state).value
    reason = (reason or "")[:200]
    with transaction.atomic():
        locked = Instance.objects.select_for_update().select_related("account").get(pk=instance.pk)
        previous = locked.state
        changed = to_state != previous
        if changed and to_state not in ALLOWED_TRANSITIONS[previous]:
            raise InstanceTransitionRefused(previous, to_state)
        moment = now()
        new_qr = to_state == S.PAIRING and (
            (qr_payload is not None and qr_payload != locked.qr_payload)
            or (pairing_code is not None and pairing_code != locked.pairing_code)
        )
        if phone_number:
            phone_number = phone_number.strip()
        number_changed = bool(phone_number) and phone_number != locked.phone_number

        if to_state == S.CONNECTED:
            if changed:
                if locked.paired_at is None or (number_changed and locked.phone_number):
                    locked.paired_at = moment  # a (new) number starts its warm-up
                else:
                    locked.reconnects += 1
            locked.last_seen_at = moment
        if phone_number:
            locked.phone_number = phone_number
        if profile_name is not None and profile_name != "":
            locked.profile_name = profile_name[:120]
        if to_state != S.PAIRING:
            locked.qr_payload = ""
            locked.qr_expires_at = None
            locked.pairing_code = ""
            locked.pairing_code_expires_at = None
        elif new_qr:
            if qr_payload is not None:
                locked.qr_payload = qr_payload
                locked.qr_expires_at = qr_expires_at
                locked.qr_codes_issued += 1
            if pairing_code is not None:
                locked.pairing_code = pairing_code
                locked.pairing_code_expires_at = qr_expires_at if pairing_code else None
        if changed:
            locked.state = to_state
            locked.state_reason = reason
            locked.state_changed_at = moment
        elif reason and new_qr:
            locked.state_reason = reason
        locked.save()

        base = {
            "state": locked.state,
            "previous_state": previous,
            "phone_number": locked.phone_number or None,
            "reason": reason or None,
        }
        if changed:
            InstanceStateChange.objects.create(instance=locked, from_state=previous, to_state=to_state, reason=reason)
            event_emit(account=locked.account, instance=locked, event_type="instance.connection_updated", data=base)
            if to_state == S.CONNECTED:
                event_emit(account=locked.account, instance=locked, event_type="instance.connected", data=base)
            elif previous == S.CONNECTED and to_state in OFFLINE_STATES:
                event_emit(account=locked.account, instance=locked, event_type="instance.disconnected", data=base)
        if new_qr:
            event_emit(
                account=locked.account,
                instance=locked,
                event_type="instance.qr_updated",
                data={
                    **base,
                    "qr": locked.qr_payload or None,
                    "pairing_code": locked.pairing_code or None,
                    "qr_expires_at": _iso(locked.qr_expires_at or locked.pairing_code_expires_at),
                },
            )
    _copy_state(locked, instance)
    return locked


def _copy_state(source: Instance, target: Instance) -> None:
    if source is target:
        return
    for field in (
        "state",
        "state_reason",
        "state_changed_at",
        "phone_number",
        "profile_name",
        "qr_payload",
        "qr_expires_at",
        "pairing_code",
        "pairing_code_expires_at",
        "qr_codes_issued",
        "reconnects",
        "paired_at",
        "last_seen_at",
    ):
        setattr(target, field, getattr(source, field))


def _apply_connect_result(instance: Instance, result: ConnectResult, *, reason: str) -> Instance:
    if result.state == S.CONNECTED:
        if instance.state == S.CREATED:
            instance = instance_transition(instance=instance, to_state=S.PAIRING, reason=reason)
        return instance_transition(instance=instance, to_state=S.CONNECTED, reason="Already paired with the provider")
    return instance_transition(
        instance=instance,
        to_state=S.PAIRING,
        reason=reason,
        qr_payload=result.qr_payload or None,
        pairing_code=result.pairing_code if result.pairing_code else None,
        qr_expires_at=result.expires_at,
    )


def instance_connect(
    *,
    instance: Instance,
    phone_number: str | None = None,
    reason: str = "",
) -> Instance:
    """Start pairing: a QR code to scan, or a pairing code when ``phone_number`` (any format the account's country
    understands) is given. Refused for a connected or deleted instance; provider failures raise
    ``InstanceActionFailed``."""
    if instance.deleted_at is not None:
        raise InstanceError("This instance was deleted.")
    if instance.state == S.CONNECTED:
        raise InstanceError("This instance is already connected. Log out first to pair another phone.")
    e164 = None
    if phone_number:
        try:
            e164 = phone_lib.normalize_e164(phone_number, instance.account.default_country)
        except phone_lib.InvalidPhoneNumber as exc:
            raise InstanceError("Enter the phone number of the WhatsApp account to link, e.g. +9665…") from exc
    provider = get_provider(instance.provider)
    if e164 and not provider.supports_pairing_code:
        raise InstanceError("This instance cannot pair with a code; scan the QR code instead.")
    try:
        result = provider.connect(instance, phone_number=e164)
    except ProviderError as exc:
        raise InstanceActionFailed(f"The provider could not start pairing: {exc.message}") from exc
    if e164 and result.state != S.CONNECTED and not result.pairing_code:
        # Some providers answer a code request with a QR only (e.g. a session that was already connecting).
        default_reason = (
            f"The provider gave no pairing code for {phone_lib.mask(e164)}: scan the QR code, or ask for a code again."
        )
    elif e164:
        default_reason = f"Pairing code requested for {phone_lib.mask(e164)}"
    else:
        default_reason = "Pairing started: scan the QR code"
    return _apply_connect_result(instance, result, reason=reason or default_reason)


def instance_restart(*, instance: Instance) -> Instance:
    """Restart the provider session, then take its state; an unpaired session starts pairing again."""
    if instance.deleted_at is not None:
        raise InstanceError("This instance was deleted.")
    provider = get_provider(instance.provider)
    try:
        provider.restart(instance)
    except ProviderError as exc:
        raise InstanceActionFailed(f"The provider could not restart the session: {exc.message}") from exc
    instance = instance_reconcile(instance=instance, reason="Session restarted")
    if instance.state != S.CONNECTED:
        instance = instance_connect(instance=instance, reason="Session restarted: scan the new QR code")
    return instance


def instance_logout(
    *, instance: Instance, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> Instance:
    """Unlink the WhatsApp account from the provider session (pairing is needed again). Audit-logged."""
    if instance.deleted_at is not None:
        raise InstanceError("This instance was deleted.")
    if S.LOGGED_OUT not in ALLOWED_TRANSITIONS[instance.state]:
        raise InstanceError("This instance is not linked to a phone.")
    try:
        get_provider(instance.provider).logout(instance)
    except ProviderError as exc:
        if not exc.permanent:
            raise InstanceActionFailed(f"The provider could not log out: {exc.message}") from exc
        # A permanent error (e.g. "not connected") means there is no session left to log out of.
        logger.info("logout of %s: provider says %s", instance.public_id, exc.message)
    with transaction.atomic():
        instance = instance_transition(instance=instance, to_state=S.LOGGED_OUT, reason="Logged out from the portal")
        audit_record(
            account=instance.account,
            action="instance.logged_out",
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
            target_type="instance",
            target_id=instance.public_id,
        )
    return instance


def instance_reconcile(*, instance: Instance, reason: str = "") -> Instance:
    """Ask the provider for the connection state and record any difference as a transition.

    Updates ``last_seen_at`` when the provider reports the number connected, and restarts a pairing attempt whose
    QR code expired more than a minute ago (the provider stopped rotating it). Provider errors are logged and
    leave the instance as it is.
    """
    if instance.deleted_at is not None:
        return instance
    try:
        reported = get_provider(instance.provider).connection_state(instance)
    except (ProviderError, UnknownProvider) as exc:
        logger.warning("reconcile %s: provider unavailable: %s", instance.public_id, exc)
        return instance
    why = reason or reported.reason or "Reconciled with the provider"
    target = reported.state
    if target != instance.state:
        if target in ALLOWED_TRANSITIONS[instance.state]:
            instance = instance_transition(
                instance=instance,
                to_state=target,
                reason=why,
                phone_number=reported.phone_number or None,
                profile_name=reported.profile_name or None,
            )
        elif target == S.CONNECTED and S.PAIRING in ALLOWED_TRANSITIONS[instance.state]:
            instance = instance_transition(instance=instance, to_state=S.PAIRING, reason=why)
            instance = instance_transition(
                instance=instance,
                to_state=S.CONNECTED,
                reason=why,
                phone_number=reported.phone_number or None,
                profile_name=reported.profile_name or None,
            )
        else:
            logger.info("reconcile %s: provider says %s, keeping %s", instance.public_id, target, instance.state)
    elif target == S.CONNECTED:
        instance = instance_transition(
            instance=instance,
            to_state=S.CONNECTED,
            phone_number=reported.phone_number or None,
            profile_name=reported.profile_name or None,
        )
    if instance.state == S.PAIRING and _pairing_is_stuck(instance):
        try:
            instance = instance_connect(instance=instance, reason="QR code expired: pairing restarted")
        except InstanceError as exc:
            logger.warning("reconcile %s: could not restart pairing: %s", instance.public_id, exc.message)
    return instance


def _pairing_is_stuck(instance: Instance) -> bool:
    moment = now()
    expiry = instance.qr_expires_at or instance.pairing_code_expires_at
    if expiry is not None:
        return expiry < moment - STUCK_PAIRING_GRACE
    changed = instance.state_changed_at or instance.created_at
    return changed is not None and changed < moment - STUCK_PAIRING_GRACE


def instances_reconcile_all() -> int:
    """The health job: reconcile every live instance; one failing instance never stops the others."""
    count = 0
    for instance in Instance.objects.filter(deleted_at__isnull=True).select_related("account").iterator():
        try:
            instance_reconcile(instance=instance)
        except Exception:  # a bug or provider oddity for one instance must not stop the sweep
            logger.exception("reconcile failed for %s", instance.public_id)
        count += 1
    return count


def instance_qr_received(
    *, instance: Instance, qr_payload: str, pairing_code: str = "", expires_at: dt.datetime | None = None
) -> Instance:
    """A provider pushed a new QR code (callback). Ignored once the instance is connected."""
    if instance.state == S.CONNECTED or instance.deleted_at is not None:
        return instance
    if instance.state != S.PAIRING and S.PAIRING not in ALLOWED_TRANSITIONS[instance.state]:
        return instance
    return instance_transition(
        instance=instance,
        to_state=S.PAIRING,
        reason="New QR code from the provider",
        qr_payload=qr_payload or None,
        pairing_code=pairing_code or None,
        qr_expires_at=expires_at,
    )


# --- Operator actions (the back office) ---------------------------------------------------------------------------


@transaction.atomic
def instance_set_paused(
    *, instance: Instance, paused: bool, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> Instance:
    """Operator pause/resume of one instance: a paused instance sends nothing (queued messages wait; new sends are
    refused with ``account_paused``). Resuming wakes its queue (``instance_resumed``). Audit-logged in the
    instance's account."""
    changed = Instance.objects.filter(pk=instance.pk, is_paused=not paused).update(is_paused=paused)
    instance.refresh_from_db()
    if changed:
        audit_record(
            account=instance.account,
            action="operator.instance_paused" if paused else "operator.instance_resumed",
            client_ip=client_ip,
            user_agent=user_agent,
            actor=actor,
            target_type="instance",
            target_id=instance.public_id,
        )
        if not paused:
            instance_resumed.send(sender=Instance, instance_id=instance.pk)
    return instance


def instance_force_disconnect(
    *, instance: Instance, actor: User | None = None, client_ip: str | None = None, user_agent: str = ""
) -> Instance:
    """Operator force-disconnect: log the WhatsApp session out at the provider (pairing is needed again).

    Uses the same service as the portal's logout; audit-logged (``instance.logged_out``) plus an operator entry."""
    instance = instance_logout(instance=instance, actor=actor, client_ip=client_ip, user_agent=user_agent)
    audit_record(
        account=instance.account,
        action="operator.instance_disconnected",
        client_ip=client_ip,
        user_agent=user_agent,
        actor=actor,
        target_type="instance",
        target_id=instance.public_id,
    )
    return instance
