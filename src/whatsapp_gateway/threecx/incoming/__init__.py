"""Requests 3CX (or middleware) sends the gateway — the inbound direction; ``threecx.delivery`` is the other way.
``handler`` runs the pipeline, ``auth`` checks the caller, ``events`` acts on each form and event, ``sending``
sends once through the send service, ``fields`` reads the request's fields and ``event_log`` records the request."""
