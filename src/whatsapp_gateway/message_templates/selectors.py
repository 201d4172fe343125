"""Template reads, always given the account. ``template_match`` is the content guard's question: "is this text one
of the account's approved templates?" It runs on every send, so it is cached (see ``_CACHE_KEY``)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.http import Http404

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.message_templates.models import (
    SENDABLE_CATEGORIES,
    Template,
    TemplateSource,
    TemplateStatus,
)
from whatsapp_gateway.message_templates.text import fixed_length, match_segments, normalise, segments

# Per account: [(template pk, fixed parts)] of the templates that may let a text pass, most specific first; an
# empty list when there are none, so an account without approved templates costs no query. Written by the first
# miss; deleted by every template write (``template_cache_invalidate``); the TTL bounds any lost invalidation.
_CACHE_KEY = "message_templates:matchable:v1:{account_id}"
logger = logging.getLogger(__name__)
CACHE_TTL_SECONDS = 3600
# A per-process layer in front of the shared cache, which is a file read (SQLite) or a Redis round trip on every
# send. A template write clears it at once in its own process (``template_local_forget``); other web processes see
# the change within LOCAL_TTL_SECONDS, as they see a revoked API key (docs/scaling.md, "Per-process caches").
LOCAL_TTL_SECONDS = 2.0
_LOCAL: dict[int, tuple[float, list]] = {}
_LOCAL_LOCK = threading.Lock()
_LOCAL_MAX_ACCOUNTS = 10_000


@dataclass(frozen=True)
class TemplateMatch:
    template: Template
    variables: tuple[str, ...]  # normalised (case-folded) values in the text, in variable order


def template_cache_key(account_id: int) -> str:
    return _CACHE_KEY.format(account_id=account_id)


def template_local_forget(account_id: int | None = None) -> None:
    """Drop this process's copy of one account's matchable templates (every account's with None)."""
    with _LOCAL_LOCK:
        if account_id is None:
            _LOCAL.clear()
        else:
            _LOCAL.pop(account_id, None)


def _matchable_entries(account_id: int) -> tuple[list | None, dict[int, Template] | None]:
    """(entries, the templates when they were just loaded): this process's copy, else the shared cache, else the
    database (which fills both)."""
    local = _LOCAL.get(account_id)
    if local is not None and local[0] > time.monotonic():
        return local[1], None
    entries = _cache_call("get", template_cache_key(account_id))
    loaded: dict[int, Template] | None = None
    if entries is None:
        loaded = {t.pk: t for t in _matchable(account_id)}
        entries = sorted(
            ((pk, segments(t.body)) for pk, t in loaded.items()), key=lambda e: (-fixed_length(e[1]), e[0])
        )
        _cache_call("set", template_cache_key(account_id), entries, CACHE_TTL_SECONDS)
    with _LOCAL_LOCK:
        if len(_LOCAL) >= _LOCAL_MAX_ACCOUNTS:
            _LOCAL.clear()
        _LOCAL[account_id] = (time.monotonic() + LOCAL_TTL_SECONDS, entries)
    return entries, loaded


def _matchable(account_id: int) -> QuerySet[Template]:
    # Marketing templates never let a text through, even approved (Meta approves marketing templates too).
    return Template.objects.filter(
        account_id=account_id, status=TemplateStatus.APPROVED, category__in=list(SENDABLE_CATEGORIES)
    )


def _cache_call(method: str, *args):
    """A cache call that survives the cache being down: every send reads this, and a Redis outage must not stop
    sending (the database answers instead)."""
    try:
        return getattr(cache, method)(*args)
    except Exception:  # any backend's connection error
        logger.warning("template match cache unavailable (%s); reading the database", method)
        return None


def template_match(account_id: int, text: str) -> TemplateMatch | None:
    """The approved utility/authentication template of the account (reviewed, or synced from Meta) whose fixed
    words equal ``text``'s: each ``{{n}}`` stands for any non-empty run of text; case, Unicode forms and runs of
    whitespace are normalised; fixed words must match exactly. At most one query; none when the account has no
    such template and the cache is warm."""
    entries, loaded = _matchable_entries(account_id)
    if not entries or not isinstance(text, str):
        return None
    normalised = normalise(text)
    for pk, parts in entries:
        values = match_segments(parts, normalised)
        if values is None:
            continue
        template = loaded[pk] if loaded is not None else _matchable(account_id).filter(pk=pk).first()
        if template is None:  # changed since it was cached (the invalidation races the read): read afresh next time
            template_local_forget(account_id)
            _cache_call("delete", template_cache_key(account_id))
            return None
        return TemplateMatch(template=template, variables=values)
    return None


def match_approved_template(account_id: int, text: str) -> Template | None:
    """``template_match`` without the variable values (the content guard's entry point)."""
    found = template_match(account_id, text)
    return found.template if found is not None else None


def template_list(*, account: Account) -> QuerySet[Template]:
    return Template.objects.filter(account=account).select_related("instance", "submitted_by", "reviewed_by")


def template_get_for_account(*, account: Account, public_id: str) -> Template:
    template = template_list(account=account).filter(public_id=public_id).first()
    if template is None:
        raise Http404("No such template")
    return template


def template_find_for_send(*, account: Account, name: str, language: str) -> list[Template]:
    """Every template of the account with this name and language, whatever its source, status or instance (the
    send path chooses among them and explains a refusal)."""
    return list(
        Template.objects.filter(account=account, name=name, language=language)
        .select_related("instance")
        .order_by("source", "id")
    )


def templates_sendable_from(*, account: Account, instance) -> list[Template]:
    """Approved utility/authentication templates that ``instance`` can send: the account's reviewed ones, and on
    a Cloud API instance the Meta templates synced for it."""
    scope = Q(source=TemplateSource.REVIEWED)
    if instance.provider == "cloud":
        scope |= Q(source=TemplateSource.META, instance=instance)
    return list(_matchable(account.pk).filter(scope).order_by("source", "name", "language"))


def meta_templates_for_instance(*, account: Account, instance_id: int) -> QuerySet[Template]:
    return Template.objects.filter(account=account, instance_id=instance_id, source=TemplateSource.META)


def pending_review() -> QuerySet[Template]:
    """Operators' queue: reviewed templates waiting for a decision, oldest first."""
    return Template.objects.filter(source=TemplateSource.REVIEWED, status=TemplateStatus.PENDING).order_by(
        "submitted_at", "id"
    )
