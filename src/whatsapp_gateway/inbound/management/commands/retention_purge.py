"""``whatsapp-gateway manage retention_purge``: run the retention job now (the worker runs it daily)."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand

from whatsapp_gateway.lib.retention import purgers, retention_run


class Command(BaseCommand):
    help = (
        "Redact message bodies older than GATEWAY_RETENTION_BODY_DAYS and delete rows older than "
        "GATEWAY_RETENTION_METADATA_DAYS, with every registered purger. The worker also runs this daily."
    )

    def handle(self, *args, **options) -> None:
        self.stdout.write(
            f"Retention: bodies {settings.GATEWAY_RETENTION_BODY_DAYS} days, "
            f"metadata {settings.GATEWAY_RETENTION_METADATA_DAYS} days; purgers: {', '.join(sorted(purgers()))}"
        )
        results = retention_run()
        self.stdout.write(json.dumps(results, indent=2, sort_keys=True))
