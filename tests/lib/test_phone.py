from __future__ import annotations

import pytest

from whatsapp_gateway.lib.phone import InvalidPhoneNumber, jid_to_e164, mask, normalize_e164


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("+966512345678", None, "+966512345678"),
        ("966512345678", None, "+966512345678"),
        ("00966512345678", None, "+966512345678"),
        ("0512345678", "SA", "+966512345678"),
        ("+966 51 234 5678", None, "+966512345678"),
        ("(020) 7946 0958", "GB", "+442079460958"),
        ("+1 415-555-2671", "SA", "+14155552671"),
    ],
)
def test_it_normalises_to_e164(raw, region, expected):
    assert normalize_e164(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "abc", "+12", "966-51-2345-678-999-999-999-999", "+9665123456789999", None, 5])
def test_it_rejects_invalid_numbers(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_e164(raw, "SA")


def test_it_masks_numbers_for_display():
    assert mask("+966512344321") == "+9665****4321"
    assert mask("") == ""


@pytest.mark.parametrize(
    "jid, expected",
    [
        ("966512345678@s.whatsapp.net", "+966512345678"),
        ("966512345678:12@s.whatsapp.net", "+966512345678"),
        ("966512345678@c.us", "+966512345678"),
        ("123456789012345@lid", None),
        ("120363025246125244@g.us", None),
        ("", None),
    ],
)
def test_it_maps_whatsapp_ids_to_numbers(jid, expected):
    assert jid_to_e164(jid) == expected
