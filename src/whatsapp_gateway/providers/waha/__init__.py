"""The WAHA provider: ``adapter`` (the ``Provider``), ``client`` (HTTP), ``callbacks`` (webhooks), ``messages`` (ids
and senders) and ``media`` (message contents)."""
