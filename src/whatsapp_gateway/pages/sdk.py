"""What ``/docs/sdk/python`` lists besides its examples: the Python client's exception class for each API error
code and its model class for each webhook event.

The client (``clients/python``) names its classes after the gateway's own (``lib/errors.py``), except where a
name reads better for a caller; the tests check this table against the client package.
"""

from __future__ import annotations

import re

from whatsapp_gateway.lib import errors
from whatsapp_gateway.webhooks.catalogue import EVENT_TYPES

_CLIENT_NAMES = {"validation_error": "ValidationError", "internal_error": "InternalError"}


def sdk_error_rows() -> list[tuple[str, int, str]]:
    """``(code, HTTP status, client exception class)`` for every error code, in the order they are declared."""
    by_code = {cls.code: cls for cls in [errors.GatewayError, *errors.GatewayError.__subclasses__()]}
    return [
        (str(code), by_code[code].status, _CLIENT_NAMES.get(str(code), by_code[code].__name__))
        for code in errors.ErrorCode
    ]


def sdk_event_rows() -> list[tuple[str, str, str]]:
    """``(event type, client model class, description)`` for every webhook event: ``instance.qr_updated`` is
    ``InstanceQrUpdated``."""
    return [(e.name, "".join(part.title() for part in re.split(r"[._]", e.name)), e.description) for e in EVENT_TYPES]
