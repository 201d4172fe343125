"""Demo step: a new API key for the demo account on every run, printed once (the only time it is shown)."""

from __future__ import annotations

from whatsapp_gateway.accounts.models import Account
from whatsapp_gateway.apikeys.services import api_key_create


def demo_api_key_step(result: dict) -> None:
    account = Account.objects.get(public_id=result["account_id"])
    created = api_key_create(account=account, name="Demo key (whatsapp-gateway demo)")
    result["api_key"] = created.full_key
    result["api_key_id"] = created.api_key.public_id
