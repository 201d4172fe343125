"""The Evolution API v2 provider: ``adapter`` (the ``Provider``), ``client`` (HTTP), ``callbacks`` (webhooks) and
``messages`` (message records)."""
