"""Structured logs: JSON or plain formatting, request context, and redaction of secrets and phone numbers.

Every record passes ``redact()`` twice: the ``RedactingFilter`` rewrites the message (so any handler sees a clean
record) and both formatters redact the final text (which also covers tracebacks and ``extra`` fields). Context —
request id, account id, instance id — comes from the request being served (``RequestContextMiddleware``) or from
``log_context(...)`` in background jobs.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from whatsapp_gateway.lib.phone import mask

_request: contextvars.ContextVar[Any] = contextvars.ContextVar("wg_log_request", default=None)
_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("wg_log_context", default=None)

# --- Redaction -------------------------------------------------------------------------------------------------------
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bwg_(live|test)_[A-Za-z0-9_\-]+"), r"wg_\1_****"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_\-]+"), "whsec_****"),
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=\-]{6,}"), r"\1 ****"),
    # key=value, key: value, "key": "value" for password-like keys
    (
        re.compile(
            r"""(?ix)
            (["']?\b(?:password\d?|passwd|pwd|secret|client_secret|api_?key|apikey|access_token|token|authorization|
               x-whatsapp-gateway-3cx-secret|signing_secret|encryption_keys?)\b["']?\s*[:=]\s*)
            (["']?)[^\s"',&}]+"""
        ),
        r"\1\2****",
    ),
    # Fernet tokens (encrypted secrets) never belong in logs either.
    (re.compile(r"\bgAAAAA[A-Za-z0-9_\-=]{20,}"), "gAAAAA****"),
    # Routes whose path carries a secret: provider callback tokens (the sandbox signs with them), password-reset and
    # email-confirmation keys. Django's request logger writes raw paths ("Unauthorized: /providers/…").
    (re.compile(r"(/providers/[^/\s]+/callback/)[^/\s?\"']+"), r"\1****"),
    (re.compile(r"(/accounts/password/reset/key/)[^/\s?\"']+"), r"\1****"),
    (re.compile(r"(/accounts/confirm-email/)[^/\s?\"']+"), r"\1****"),
]
_PHONE_PLUS = re.compile(r"(?<![\w+])\+\d{8,15}(?!\d)")
_PHONE_JID = re.compile(r"(?<![\w+])(\d{8,15})(?::\d+)?@(s\.whatsapp\.net|c\.us)")
_PHONE_BARE = re.compile(r"(?<![\w+.:/-])(\d{11,15})(?![\w.])")


def redact(text: str) -> str:
    """Mask API keys, webhook secrets, bearer tokens, passwords and phone numbers in ``text``."""
    if not text:
        return text
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    text = _PHONE_JID.sub(lambda m: mask("+" + m.group(1)).lstrip("+") + "@" + m.group(2), text)
    text = _PHONE_PLUS.sub(lambda m: mask(m.group(0)), text)
    text = _PHONE_BARE.sub(lambda m: mask("+" + m.group(1)).lstrip("+"), text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Rewrite the record's message with secrets and phone numbers masked (attach to handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        return True


# --- Context ---------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Add fields (``account_id``, ``instance_id``, ``job`` …) to every record logged inside the block."""
    merged = dict(_context.get() or {})
    merged.update({k: str(v) for k, v in values.items() if v is not None})
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def push_context(**values: Any) -> contextvars.Token:
    """Add fields to the context until ``pop_context(token)`` (for hooks that cannot use a ``with`` block)."""
    merged = dict(_context.get() or {})
    merged.update({k: str(v) for k, v in values.items() if v is not None})
    return _context.set(merged)


def pop_context(token: contextvars.Token) -> None:
    try:
        _context.reset(token)
    except ValueError:  # set in another context (should not happen); fall back to clearing
        _context.set(None)


def bind_request(request: Any) -> contextvars.Token:
    return _request.set(request)


def unbind_request(token: contextvars.Token) -> None:
    _request.reset(token)


def annotate_request(**values: Any) -> None:
    """Add fields to the current request's log lines from here on, its access line included — for ids a view
    learns from the body rather than the URL (the instance a send names). Outside a request it does nothing."""
    request = _request.get()
    if request is None:
        return
    fields = dict(getattr(request, "log_fields", None) or {})
    fields.update({k: str(v) for k, v in values.items() if v})
    request.log_fields = fields


def current_request_id() -> str | None:
    request = _request.get()
    return getattr(request, "request_id", None) if request is not None else (_context.get() or {}).get("request_id")


def _public_id(obj: Any) -> str | None:
    value = getattr(obj, "public_id", None)
    return str(value) if value else None


def context_fields() -> dict[str, str]:
    """Request id, account id and instance id for the current request or job, where known."""
    fields: dict[str, str] = {}
    request = _request.get()
    if request is not None:
        if getattr(request, "request_id", None):
            fields["request_id"] = request.request_id
        account = getattr(request, "account", None) or getattr(getattr(request, "auth", None), "account", None)
        if _public_id(account):
            fields["account_id"] = _public_id(account)
        match = getattr(request, "resolver_match", None)
        if match is not None:
            for value in match.kwargs.values():
                if isinstance(value, str) and value.startswith("inst_"):
                    fields["instance_id"] = value
                    break
        fields.update(getattr(request, "log_fields", None) or {})
    fields.update(_context.get() or {})
    return fields


# --- Formatters ------------------------------------------------------------------------------------------------------
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context and any ``extra=`` fields, all redacted."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        body.update(context_fields())
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_") or key in body:
                continue
            if isinstance(value, str | int | float | bool | dict | list) or value is None:
                body[key] = _redact_value(value)
        if record.exc_info:
            body["exc"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            body["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(body, ensure_ascii=False, default=str)


class PlainFormatter(logging.Formatter):
    """Human-readable lines for a laptop, with the request id and account where known; redacted."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = context_fields()
        if fields:
            text += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        return redact(text)
