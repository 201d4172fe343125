"""Signals other apps listen to, so that instances need not know them."""

from django.dispatch import Signal

# An operator resumed a paused instance (sent inside the transaction; kwargs: instance_id). The send queue wakes
# the instance's lane once the change is committed.
instance_resumed = Signal()
