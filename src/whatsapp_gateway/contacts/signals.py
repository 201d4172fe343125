"""Signals other apps listen to, so that contacts need not know them."""

from django.dispatch import Signal

# A contact with a number was seen with a ``…@lid`` id (sent inside the caller's transaction; kwargs: contact).
# Suppression gives a lid-only opt-out the number.
lid_resolved = Signal()
