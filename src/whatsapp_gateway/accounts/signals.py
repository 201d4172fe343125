"""Signals other apps listen to, so that accounts need not know them."""

from django.dispatch import Signal

# An operator resumed a paused account (sent inside the transaction; kwargs: account_id). The send queue wakes the
# account's queued messages once the change is committed.
account_resumed = Signal()
