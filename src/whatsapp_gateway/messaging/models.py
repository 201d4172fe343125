"""The message log (every accepted and every blocked send), its per-account numbering and usage counters, the
per-instance send lane that paces the outbound queue, idempotency records, policy events and portal test numbers.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.instances.models import Instance
from whatsapp_gateway.lib.clock import now
from whatsapp_gateway.lib.ids import make_public_id_default


class MessageStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"
    BLOCKED = "blocked", "Blocked by the guard"
    VALIDATED = "validated", "Validated (dry run)"


# Forward order of the delivery lifecycle; a status never moves to a lower rank. ``failed`` is final.
STATUS_RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.SENT: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
}
FINAL_STATUSES = frozenset({MessageStatus.READ, MessageStatus.FAILED, MessageStatus.BLOCKED, MessageStatus.VALIDATED})


class MessageSource(models.TextChoices):
    API = "api", "API"
    PORTAL_TEST = "portal_test", "Portal test send"
    THREECX = "threecx", "3CX"
    OPT_OUT_CONFIRMATION = "opt_out_confirmation", "Opt-out confirmation"
    PHONE = "phone", "Sent from the phone"


class GuardDecision(models.TextChoices):
    ALLOW = "allow", "Allowed"
    REVIEW = "review", "Allowed, recorded for review"
    BLOCK = "block", "Blocked"


class Message(models.Model):
    """One outbound message, or one blocked attempt. ``log_id`` numbers an account's log (1, 2, 3 …)."""

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("msg"), editable=False)
    # No single-column indexes on account and instance: the composite indexes below lead with them. A spare one
    # costs every INSERT, and a planner without fresh statistics chose it and filtered the account's whole log.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="messages", db_index=False)
    log_id = models.PositiveBigIntegerField()
    instance = models.ForeignKey(
        Instance, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages", db_index=False
    )
    instance_ref = models.CharField(max_length=120, blank=True, help_text="instance_id as the caller gave it.")
    api_key = models.ForeignKey(
        "apikeys.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    source = models.CharField(max_length=24, choices=MessageSource.choices)
    purpose = models.CharField(max_length=40, blank=True)
    phone_e164 = models.CharField(max_length=20, blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, help_text="Keyed hash of the E.164 number (lookup).")
    text = models.TextField(blank=True)
    text_hash = models.CharField(max_length=64, blank=True)
    # A send by template name: ``text`` is the rendered text; a Meta template goes out as a WhatsApp template.
    template = models.ForeignKey(
        "message_templates.Template", on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    template_variables = models.JSONField(default=list, blank=True)
    dry_run = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=255, blank=True)

    status = models.CharField(max_length=12, choices=MessageStatus.choices)
    decision = models.CharField(max_length=8, choices=GuardDecision.choices)
    block_code = models.CharField(max_length=40, blank=True)
    block_message = models.CharField(max_length=300, blank=True)
    block_details = models.JSONField(default=dict, blank=True)
    risk_score = models.PositiveSmallIntegerField(default=0)
    # The content policy's category of the text: utility, authentication or marketing (empty before it ran).
    category = models.CharField(max_length=16, blank=True, default="")
    reasons = models.JSONField(default=list, blank=True)
    counted = models.BooleanField(default=False, help_text="Counts toward plan, velocity and warm-up limits.")

    provider = models.CharField(max_length=20, blank=True)
    provider_message_id = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="[{status, at, note}] in order.")

    created_at = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-log_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "log_id"], name="message_unique_log_id_per_account"),
            models.UniqueConstraint(
                fields=["instance", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="message_unique_provider_id_per_instance",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="message_account_created"),
            models.Index(fields=["instance", "counted", "created_at"], name="message_instance_velocity"),
            models.Index(fields=["account", "phone_hash", "created_at"], name="message_recipient_velocity"),
            models.Index(fields=["account", "text_hash", "created_at"], name="message_identical_text"),
            models.Index(fields=["instance", "status", "id"], name="message_queue_head"),
            models.Index(fields=["status", "next_attempt_at"], name="message_status_due"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} #{self.log_id} {self.status}"

    @property
    def is_blocked(self) -> bool:
        return self.status == MessageStatus.BLOCKED


class LogSequence(models.Model):
    """The account's message-log counter. Its row is locked by every send, which also serialises the limit counts
    of one account across all web processes (PostgreSQL row lock; SQLite's IMMEDIATE transactions)."""

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="message_log_sequence")
    last_log_id = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.account_id}: {self.last_log_id}"


class DailyUsage(models.Model):
    """Accepted messages per instance per day in the account's timezone (the instance's daily and warm-up caps; the
    account's totals are ``AccountDailyUsage``)."""

    # Indexed by the unique (instance, day) and the (account, day) index, as Message's foreign keys are.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["instance", "day"], name="daily_usage_unique_instance_day")]
        indexes = [models.Index(fields=["account", "day"])]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.day}: {self.count}"


class AccountDailyUsage(models.Model):
    """Accepted messages per account per day in the account's timezone, counted with ``DailyUsage``: the plan's
    daily and monthly limits read at most 31 of these rows, however many instances the account has."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "day"], name="account_daily_usage_unique_day")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.day}: {self.count}"


class LanePause(models.TextChoices):
    """Why an instance's whole queue holds (``""``: it runs). Both resume on their own."""

    PROVIDER_FAILING = "provider_failing", "The provider is failing"
    INSTANCE_DISCONNECTED = "instance_disconnected", "The instance is not connected"


class SendLane(models.Model):
    """One per instance: at most one message in flight, and the earliest time the next one may go (pacing).

    It is also the instance's circuit breaker: consecutive retryable provider errors across different recipients
    (``failure_streak``, message ids) pause the whole queue; after ``probe_at`` one message goes as a probe, and
    its success resumes the queue. See ``messaging.breaker``."""

    instance = models.OneToOneField(Instance, on_delete=models.CASCADE, related_name="send_lane")
    in_flight = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    in_flight_since = models.DateTimeField(null=True, blank=True)
    next_send_at = models.DateTimeField(null=True, blank=True)
    wakeup_at = models.DateTimeField(null=True, blank=True, help_text="A send job is scheduled for this time.")
    failure_streak = models.JSONField(default=list, blank=True, help_text="Messages whose sends failed in a row.")
    pause_code = models.CharField(max_length=24, choices=LanePause.choices, blank=True)
    pause_reason = models.CharField(max_length=300, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    probe_at = models.DateTimeField(null=True, blank=True, help_text="When the paused queue tries one message.")
    probes = models.PositiveSmallIntegerField(default=0, help_text="Failed probes in this pause.")

    def __str__(self) -> str:
        return f"lane {self.instance_id}"


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyRecord(models.Model):
    """``Idempotency-Key`` per account: claimed (unique insert) before the request runs, then the response."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=IdempotencyState.choices, default=IdempotencyState.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=now, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "key"], name="idempotency_unique_key_per_account")]

    def __str__(self) -> str:
        return f"{self.account_id}:{self.key} {self.state}"


class PolicyEvent(models.Model):
    """A risk-score decision worth a human look: ``review`` (sent) or ``block`` (not sent)."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="policy_events")
    instance = models.ForeignKey(Instance, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="policy_events")
    action = models.CharField(max_length=8, choices=GuardDecision.choices)
    risk_score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list)
    created_at = models.DateTimeField(default=now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.risk_score} ({self.message_id})"


class TestNumber(models.Model):
    """One of the account's own numbers that the portal's test send may reach once verified by a code."""

    __test__ = False  # not a pytest class

    public_id = models.CharField(max_length=40, unique=True, default=make_public_id_default("tnum"), editable=False)
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="test_numbers")
    phone_e164 = models.CharField(max_length=20)
    label = models.CharField(max_length=80, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    code_attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["account", "phone_e164"], name="test_number_unique_per_account")]

    def __str__(self) -> str:
        return self.phone_e164

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class UnmatchedStatus(models.Model):
    """A provider status callback that arrived before the send recorded the provider's message id (the provider
    answered the send and called back at almost the same moment). Applied as soon as the id is recorded."""

    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="+")
    provider_message_id = models.CharField(max_length=200)
    status = models.CharField(max_length=12)
    error_code = models.CharField(max_length=60, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["instance", "provider_message_id"])]

    def __str__(self) -> str:
        return f"{self.provider_message_id} {self.status}"
