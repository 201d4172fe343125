"""WhatsApp Gateway: guarded WhatsApp messaging for businesses."""

__version__ = "0.1.0"
