"""Read-only figures for the dashboard. Every query is scoped to one account; days are the account's local days."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.db.models.functions import TruncDate

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.apikeys.models import ApiKey
from whatsapp_gateway.inbound.models import InboundMessage
from whatsapp_gateway.instances.models import Instance, InstanceState
from whatsapp_gateway.messaging.guard.usage import account_tz
from whatsapp_gateway.messaging.models import AccountDailyUsage, Message, MessageSource, MessageStatus
from whatsapp_gateway.webhooks.models import Delivery, DeliveryState, Endpoint, EndpointKind

# Outcomes drawn on the sends chart, in stacking order. "In progress" is queued, sending and sent.
OUTCOMES = ("read", "delivered", "in_progress", "failed", "blocked")
OUTCOME_LABELS = {
    "read": "Read",
    "delivered": "Delivered",
    "in_progress": "Sent or queued",
    "failed": "Failed",
    "blocked": "Blocked",
}
_IN_PROGRESS = {MessageStatus.QUEUED, MessageStatus.SENDING, MessageStatus.SENT}
SENT_STATES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ)


@dataclass
class Usage:
    today: int
    month: int
    daily_limit: int
    monthly_limit: int

    @staticmethod
    def _pct(count: int, limit: int) -> int:
        return min(100, round(100 * count / limit)) if limit else 0

    @property
    def today_pct(self) -> int:
        return self._pct(self.today, self.daily_limit)

    @property
    def month_pct(self) -> int:
        return self._pct(self.month, self.monthly_limit)


@dataclass
class DaySends:
    day: dt.date
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def values(self) -> list[int]:
        """Counts in OUTCOMES order (the table's columns)."""
        return [self.counts.get(outcome, 0) for outcome in OUTCOMES]


def local_today(account: Account, now: dt.datetime) -> dt.date:
    return now.astimezone(account_tz(account)).date()


def usage(account: Account, now: dt.datetime) -> Usage:
    """Counted sends today and this month (the numbers the plan limits are checked against)."""
    today = local_today(account, now)
    rows = AccountDailyUsage.objects.filter(account=account, day__gte=today.replace(day=1), day__lte=today)
    month = today_count = 0
    for day, count in rows.values_list("day", "count"):
        month += count
        if day == today:
            today_count += count
    return Usage(today_count, month, account.plan.daily_limit, account.plan.monthly_limit)


def _since(account: Account, now: dt.datetime, days: int) -> dt.datetime:
    """Local midnight ``days - 1`` days ago, as an aware datetime."""
    tz = account_tz(account)
    first = local_today(account, now) - dt.timedelta(days=days - 1)
    return dt.datetime.combine(first, dt.time.min, tzinfo=tz)


def _real_messages(account: Account):
    return Message.objects.filter(account=account, dry_run=False).exclude(status=MessageStatus.VALIDATED)


def sends_per_day(account: Account, now: dt.datetime, days: int) -> list[DaySends]:
    """One entry per local day (oldest first, empty days included) with counts per outcome."""
    tz = account_tz(account)
    first = local_today(account, now) - dt.timedelta(days=days - 1)
    result = {first + dt.timedelta(days=i): DaySends(first + dt.timedelta(days=i)) for i in range(days)}
    for entry in result.values():
        entry.counts = dict.fromkeys(OUTCOMES, 0)
    rows = (
        _real_messages(account)
        .filter(created_at__gte=_since(account, now, days))
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        entry = result.get(row["day"])
        if entry is None:
            continue
        status = row["status"]
        outcome = "in_progress" if status in _IN_PROGRESS else status
        if outcome in entry.counts:
            entry.counts[outcome] += row["n"]
    return list(result.values())


def blocked_by_reason(account: Account, now: dt.datetime, days: int) -> list[tuple[str, int]]:
    rows = (
        _real_messages(account)
        .filter(status=MessageStatus.BLOCKED, created_at__gte=_since(account, now, days))
        .values("block_code")
        .annotate(n=Count("id"))
        .order_by("-n", "block_code")
    )
    return [(row["block_code"] or "unspecified", row["n"]) for row in rows]


@dataclass
class Rates:
    sent: int
    delivered: int
    read: int
    failed: int

    @property
    def delivery_rate(self) -> int | None:
        attempted = self.sent + self.failed
        return round(100 * self.delivered / attempted) if attempted else None

    @property
    def read_rate(self) -> int | None:
        return round(100 * self.read / self.delivered) if self.delivered else None


def rates(days: list[DaySends]) -> Rates:
    """Delivery rate: delivered or read out of everything handed to WhatsApp; read rate: read out of delivered."""
    read = sum(d.counts["read"] for d in days)
    delivered = sum(d.counts["delivered"] for d in days) + read
    failed = sum(d.counts["failed"] for d in days)
    sent = delivered + sum(d.counts["in_progress"] for d in days)
    return Rates(sent=sent, delivered=delivered, read=read, failed=failed)


@dataclass
class WebhookHealth:
    sent: int
    failed: int
    pending: int
    endpoints: int
    failing: list[Endpoint]

    @property
    def success_rate(self) -> int | None:
        done = self.sent + self.failed
        return round(100 * self.sent / done) if done else None


def webhook_health(account: Account, now: dt.datetime, days: int) -> WebhookHealth:
    counts = Delivery.objects.filter(account=account, created_at__gte=_since(account, now, days)).aggregate(
        sent=Count("id", filter=Q(state=DeliveryState.SENT)),
        failed=Count("id", filter=Q(state=DeliveryState.FAILED)),
        pending=Count("id", filter=Q(state=DeliveryState.PENDING)),
    )
    endpoints = Endpoint.objects.filter(account=account).select_related("instance")
    failing = [e for e in endpoints if e.failing_since is not None or not e.is_enabled]
    return WebhookHealth(counts["sent"], counts["failed"], counts["pending"], len(endpoints), failing)


def instance_states(account: Account) -> list[tuple[str, str, int]]:
    """(state, label, count) for every state the account's instances are in."""
    rows = Instance.objects.filter(account=account).values("state").annotate(n=Count("id")).order_by("state")
    labels = dict(InstanceState.choices)
    return [(row["state"], labels.get(row["state"], row["state"]), row["n"]) for row in rows]


def inbound_per_day(account: Account, now: dt.datetime, days: int) -> list[tuple[dt.date, int]]:
    tz = account_tz(account)
    first = local_today(account, now) - dt.timedelta(days=days - 1)
    result = {first + dt.timedelta(days=i): 0 for i in range(days)}
    rows = (
        InboundMessage.objects.filter(account=account, received_at__gte=_since(account, now, days))
        .annotate(day=TruncDate("received_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
    )
    for row in rows:
        if row["day"] in result:
            result[row["day"]] = row["n"]
    return list(result.items())


@dataclass
class Step:
    key: str
    title: str
    hint: str
    url: str
    done: bool


@dataclass
class Onboarding:
    steps: list[Step]
    first_instance: Instance | None

    @property
    def done_count(self) -> int:
        return sum(step.done for step in self.steps)

    @property
    def complete(self) -> bool:
        return self.done_count == len(self.steps)

    @property
    def pct(self) -> int:
        return round(100 * self.done_count / len(self.steps))


def onboarding(account: Account) -> Onboarding:
    """The five first steps, each ticked off by what exists in the account (no separate progress record)."""
    instances = list(Instance.objects.filter(account=account).order_by("created_at")[:20])
    paired = next((i for i in instances if i.state == InstanceState.CONNECTED or i.paired_at), None)
    first = paired or (instances[0] if instances else None)
    has_key = ApiKey.objects.filter(account=account).exists()
    sent = (
        _real_messages(account)
        .filter(status__in=SENT_STATES)
        .exclude(source=MessageSource.OPT_OUT_CONFIRMATION)
        .exists()
    )
    has_webhook = Endpoint.objects.filter(account=account, kind=EndpointKind.CUSTOMER).exists()

    def manage(tab: str) -> str:
        return f"/instances/{first.public_id}/manage?tab={tab}" if first else "/instances"

    steps = [
        Step(
            "instance",
            "Create an instance",
            "One instance is one WhatsApp number.",
            "/instances#new-instance",
            bool(instances),
        ),
        Step(
            "pair",
            "Pair it with a phone",
            "Scan the QR code with WhatsApp → Linked devices.",
            manage("connection"),
            paired is not None,
        ),
        Step("apikey", "Create an API key", "Your systems send with it: POST /api/send-message.", "/api-keys", has_key),
        Step("send", "Send a first message", "Try the Test send tab, or call the API.", manage("test-send"), sent),
        Step(
            "webhook",
            "Add a webhook",
            "Receive delivery, read and inbound events in your system.",
            manage("webhook"),
            has_webhook,
        ),
    ]
    return Onboarding(steps=steps, first_instance=first)


def has_any_message(account: Account) -> bool:
    return _real_messages(account).exists()
