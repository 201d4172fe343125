"""Operator back office: accounts (plan, modules, pause/suspend), users, plans, audit log."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm

from whatsapp_gateway.accounts.models import Account, AuditLog, Membership, Module, Plan, User
from whatsapp_gateway.accounts.services import audit_record
from whatsapp_gateway.accounts.signals import account_resumed
from whatsapp_gateway.lib.client_ip import request_origin


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["public_id", "created_at"]


class AccountAdminForm(forms.ModelForm):
    """``enabled_modules`` is a JSON list in the database; operators tick boxes instead of typing JSON."""

    enabled_modules = forms.MultipleChoiceField(
        choices=Module.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="API sending allows POST /api/send-message; 3CX enables the 3CX integration.",
    )

    class Meta:
        model = Account
        fields = [
            "name",
            "plan",
            "enabled_modules",
            "is_paused",
            "paused_reason",
            "is_suspended",
            "timezone",
            "default_country",
            "extra_opt_out_keywords",
            "send_opt_out_confirmation",
            "allow_authentication_to_opted_out",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound and self.instance.pk:
            self.initial["enabled_modules"] = [m for m in self.instance.enabled_modules or [] if m in Module.values]

    def clean_enabled_modules(self) -> list[str]:
        chosen = set(self.cleaned_data.get("enabled_modules") or [])
        return [m for m in Module.values if m in chosen]  # stable order, no duplicates


_AUDITED_FIELDS = ("plan", "enabled_modules", "is_paused", "paused_reason", "is_suspended")


def _wake_queued(account: Account) -> None:
    """Resuming a paused account sends its queued messages now, not at the next queue sweep."""
    account_resumed.send(sender=Account, account_id=account.pk)


def _operator_audit(request, account: Account, action: str, metadata: dict | None = None) -> None:
    audit_record(
        account=account,
        action=action,
        actor=request.user,
        **request_origin(request),
        actor_label=f"operator {request.user.email or request.user.username}",
        target_type="account",
        target_id=account.public_id,
        metadata=metadata or {},
    )


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountAdminForm
    list_display = ["name", "public_id", "plan", "modules", "is_paused", "is_suspended", "created_at"]
    list_filter = ["plan", "is_paused", "is_suspended"]
    search_fields = ["name", "public_id", "memberships__user__email"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "public_id", "plan", "enabled_modules"]}),
        ("Sending and access", {"fields": ["is_paused", "paused_reason", "is_suspended"]}),
        (
            "Phone numbers and opt-outs",
            {
                "fields": [
                    "timezone",
                    "default_country",
                    "extra_opt_out_keywords",
                    "send_opt_out_confirmation",
                    "allow_authentication_to_opted_out",
                ]
            },
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]
    inlines = [MembershipInline]
    actions = ["pause", "resume", "suspend", "unsuspend"]

    @admin.display(description="Modules")
    def modules(self, obj: Account) -> str:
        labels = dict(Module.choices)
        return ", ".join(labels.get(m, m) for m in obj.enabled_modules or []) or "—"

    def save_model(self, request, obj, form, change):
        """Operator edits of plan, modules, pause and suspension land in the account's audit log."""
        changes = {}
        if change:
            before = Account.objects.get(pk=obj.pk)
            for name in _AUDITED_FIELDS:
                old, new = getattr(before, name), getattr(obj, name)
                if old != new:
                    changes[name] = {
                        "from": str(old) if name == "plan" else old,
                        "to": str(new) if name == "plan" else new,
                    }
        super().save_model(request, obj, form, change)
        if changes:
            _operator_audit(request, obj, "account.changed_by_operator", {"changed": changes})
        if changes.get("is_paused", {}).get("to") is False:
            _wake_queued(obj)

    def _bulk(self, request, queryset, action: str, **fields) -> None:
        for account in queryset:
            for name, value in fields.items():
                setattr(account, name, value)
            account.save(update_fields=[*fields, "updated_at"])
            _operator_audit(request, account, action)
            if fields.get("is_paused") is False:
                _wake_queued(account)
        self.message_user(request, f"{queryset.count()} account(s) updated.")

    @admin.action(description="Pause sending for the selected accounts")
    def pause(self, request, queryset):
        self._bulk(request, queryset, "account.paused_by_operator", is_paused=True, paused_reason="Paused by operator")

    @admin.action(description="Resume sending for the selected accounts")
    def resume(self, request, queryset):
        self._bulk(request, queryset, "account.resumed_by_operator", is_paused=False, paused_reason="")

    @admin.action(description="Suspend portal access for the selected accounts")
    def suspend(self, request, queryset):
        self._bulk(request, queryset, "account.suspended_by_operator", is_suspended=True)

    @admin.action(description="Lift the suspension of the selected accounts")
    def unsuspend(self, request, queryset):
        self._bulk(request, queryset, "account.unsuspended_by_operator", is_suspended=False)


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Starter/Growth/Scale are seeded; a custom plan (``is_custom``) is made here and assigned on the account."""

    list_display = ["name", "code", "daily_limit", "monthly_limit", "max_instances", "is_custom", "account_count"]
    list_filter = ["is_custom"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}

    @admin.display(description="Accounts")
    def account_count(self, obj: Plan) -> int:
        return obj.accounts.count()


class OperatorUserCreationForm(AdminUserCreationForm):
    """Users log in with their email; the username allauth needs internally is the email too."""

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("email",)
        field_classes: dict = {}

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        user.email = user.email.strip().lower()
        user.username = user.email[:150]
        if commit:
            user.save()
        return user


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    add_form = OperatorUserCreationForm
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "usable_password", "password1", "password2")}),)
    list_display = ["email", "account", "is_active", "is_staff", "last_login", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "username", "membership__account__name"]
    ordering = ["email"]
    list_select_related = ["membership__account"]

    @admin.display(description="Account")
    def account(self, obj: User) -> str:
        membership = getattr(obj, "membership", None)
        return f"{membership.account} ({membership.get_role_display()})" if membership else "—"


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "account",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "ip_address",
    ]
    list_filter = ["action"]
    search_fields = ["actor_label", "action", "target_id", "account__name"]
    readonly_fields = [f.name for f in AuditLog._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
