"""The send guard: small ordered checks (``checks.py``), each allowing or returning a typed block.

``run(ctx, checks)`` returns the first block or ``None``. The send service runs ``UNLOCKED_CHECKS``, computes the
risk score, then locks the account's log row and runs ``LOCKED_CHECKS`` against fresh counts, so limits hold
across any number of web processes.
"""

from __future__ import annotations

from collections.abc import Iterable

from whatsapp_gateway.lib.errors import GatewayError
from whatsapp_gateway.messaging.guard.checks import (
    FIELD_CHECKS,
    LOCKED_CHECKS,
    RECORD_CHECKS,
    UNLOCKED_CHECKS,
    Check,
    check_sending_enabled,
)
from whatsapp_gateway.messaging.guard.context import GuardContext

__all__ = [
    "FIELD_CHECKS",
    "LOCKED_CHECKS",
    "RECORD_CHECKS",
    "UNLOCKED_CHECKS",
    "GuardContext",
    "check_sending_enabled",
    "run",
]


def run(ctx: GuardContext, checks: Iterable[Check]) -> GatewayError | None:
    for check in checks:
        block = check(ctx)
        if block is not None:
            return block
    return None
