"""The Meta WhatsApp Cloud API provider: ``adapter`` (the ``Provider``), ``client`` (the Graph API and Meta's error
codes), ``callbacks`` (webhooks), ``setup`` (configuring an instance's phone number) and ``views`` (its portal
form)."""
