"""Every contract error code has exactly one exception class, and the portal's refusals share one base."""

import inspect

from whatsapp_gateway.lib import errors


def _contract_errors() -> list[type[errors.GatewayError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.GatewayError) and cls is not errors.GatewayError
    ]


def test_each_error_code_has_exactly_one_class():
    codes = [cls.code for cls in _contract_errors()]
    assert sorted(codes) == sorted(errors.ErrorCode)


def test_a_class_renders_the_contract_envelope_with_its_own_status():
    exc = errors.RecipientSuppressed(details={"phone": None, "reason": "stop"})
    assert exc.status == 403
    assert exc.as_body() == {
        "success": False,
        "error": "recipient_suppressed",
        "message": "The recipient is on your suppression list.",
        "details": {"reason": "stop"},
    }


def test_portal_errors_carry_the_message_shown():
    exc = errors.PortalError("That code is not right.")
    assert exc.message == str(exc) == "That code is not right."
