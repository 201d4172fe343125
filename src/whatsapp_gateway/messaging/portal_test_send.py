"""The portal's test send: to the account's own numbers, verified by a code, a few a day, through ``send_message``.

A number is added with a label; a six-digit code goes to it (purpose ``authentication``, source ``portal_test``)
from the instance being managed; typing the code back verifies it. Verification codes count toward the daily cap.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from whatsapp_gateway.accounts.models import Account, User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.crypto import constant_time_equals, keyed_hash
from whatsapp_gateway.lib.errors import PortalError
from whatsapp_gateway.lib.phone import InvalidPhoneNumber, mask, normalize_e164
from whatsapp_gateway.messaging import policy
from whatsapp_gateway.messaging.guard.usage import local_day_bounds
from whatsapp_gateway.messaging.models import Message, MessageSource, TestNumber
from whatsapp_gateway.messaging.services import SendOutcome, send_message

CODE_TTL = dt.timedelta(minutes=15)
CODE_MAX_ATTEMPTS = 5
MAX_TEST_NUMBERS = 5


class PortalTestSendError(PortalError):
    """A refusal shown to the person in the form (not a guard block)."""


@dataclass(frozen=True)
class CodeSent:
    test_number: TestNumber
    outcome: SendOutcome
    code: str  # returned so a sandbox instance can show it; never stored in clear


def portal_tests_today(*, account: Account) -> int:
    today_start = local_day_bounds(account, now())[1] - dt.timedelta(days=1)
    return Message.objects.filter(
        account=account, source=MessageSource.PORTAL_TEST, created_at__gte=today_start, counted=True
    ).count()


def _check_cap(account: Account) -> None:
    if portal_tests_today(account=account) >= policy.PORTAL_TEST_DAILY_CAP:
        raise PortalTestSendError(
            f"The portal may send at most {policy.PORTAL_TEST_DAILY_CAP} test messages a day; try again tomorrow."
        )


def _code_hash(test_number: TestNumber, code: str) -> str:
    return keyed_hash(f"{test_number.public_id}:{code}", purpose="test_number_code")


def portal_test_number_add(
    *, account: Account, instance: Instance, phone: str, label: str, actor: User, client_ip: str | None = None
) -> CodeSent:
    """Add (or re-verify) one of the account's own numbers and send it a verification code. Guard blocks raise."""
    try:
        e164 = normalize_e164(phone, account.default_country)
    except InvalidPhoneNumber as exc:
        raise PortalTestSendError("That is not a valid phone number.") from exc
    existing = TestNumber.objects.filter(account=account, phone_e164=e164).first()
    if existing is None and TestNumber.objects.filter(account=account).count() >= MAX_TEST_NUMBERS:
        raise PortalTestSendError(f"An account can keep at most {MAX_TEST_NUMBERS} test numbers; remove one first.")
    _check_cap(account)
    if existing is None:
        try:
            with transaction.atomic():
                existing = TestNumber.objects.create(
                    account=account, phone_e164=e164, label=label.strip()[:80], created_by=actor
                )
        except IntegrityError:
            existing = TestNumber.objects.get(account=account, phone_e164=e164)
    code = f"{secrets.randbelow(1_000_000):06d}"
    outcome = send_message(
        account=account,
        instance_ref=instance,
        phone=e164,
        text=f"Your WhatsApp Gateway verification code is {code}. It confirms this number for test messages.",
        purpose="authentication",
        source=MessageSource.PORTAL_TEST,
        actor=actor,
        client_ip=client_ip,
    )
    TestNumber.objects.filter(pk=existing.pk).update(
        code_hash=_code_hash(existing, code), code_expires_at=now() + CODE_TTL, code_attempts=0
    )
    audit_record(
        account=account,
        action="test_number.code_sent",
        actor=actor,
        target_type="test_number",
        target_id=existing.public_id,
        metadata={"phone": mask(e164)},
    )
    existing.refresh_from_db()
    return CodeSent(test_number=existing, outcome=outcome, code=code)


def portal_test_number_verify(*, test_number: TestNumber, code: str, actor: User) -> TestNumber:
    if test_number.is_verified:
        return test_number
    if not test_number.code_hash or test_number.code_expires_at is None or test_number.code_expires_at < now():
        raise PortalTestSendError("The code expired; send a new one.")
    if test_number.code_attempts >= CODE_MAX_ATTEMPTS:
        raise PortalTestSendError("Too many wrong codes; send a new one.")
    TestNumber.objects.filter(pk=test_number.pk).update(code_attempts=test_number.code_attempts + 1)
    if not constant_time_equals(_code_hash(test_number, code.strip()), test_number.code_hash):
        raise PortalTestSendError("That code is not right.")
    TestNumber.objects.filter(pk=test_number.pk).update(verified_at=now(), code_hash="", code_expires_at=None)
    audit_record(
        account=test_number.account,
        action="test_number.verified",
        actor=actor,
        target_type="test_number",
        target_id=test_number.public_id,
        metadata={"phone": mask(test_number.phone_e164)},
    )
    test_number.refresh_from_db()
    return test_number


def portal_test_number_remove(*, test_number: TestNumber, actor: User) -> None:
    audit_record(
        account=test_number.account,
        action="test_number.removed",
        actor=actor,
        target_type="test_number",
        target_id=test_number.public_id,
        metadata={"phone": mask(test_number.phone_e164)},
    )
    test_number.delete()


def portal_test_send(
    *,
    account: Account,
    instance: Instance,
    test_number: TestNumber,
    text: str,
    purpose: str,
    actor: User,
    client_ip: str | None = None,
    template: dict | None = None,
) -> SendOutcome:
    """One test message to a verified number, through the same guard as the API: ``text``, or ``template``
    (``{"name", "language", "variables"}``) as the API takes it."""
    if not test_number.is_verified:
        raise PortalTestSendError("Verify the number with its code first.")
    _check_cap(account)
    return send_message(
        account=account,
        instance_ref=instance,
        phone=test_number.phone_e164,
        text=None if template is not None else text,
        template=template,
        purpose=purpose,
        source=MessageSource.PORTAL_TEST,
        actor=actor,
        client_ip=client_ip,
    )
