"""The sandbox provider, the embedded default: a simulated WhatsApp phone and server (see ``phone``)."""
