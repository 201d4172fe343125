"""Test settings: the production settings module, with test-only environment applied first.

Settings read the environment at import time, so the data directory and eager jobs are set before the import.
"""

import os
import tempfile

os.environ.setdefault("GATEWAY_DATA_DIR", tempfile.mkdtemp(prefix="wg-test-"))
os.environ.setdefault("HUEY_IMMEDIATE", "1")
# Sandbox provider: receipts without delay and no slow-provider pause (tests move the clock, never sleep).
os.environ.setdefault("GATEWAY_SANDBOX_STATUS_DELAYS", "0,0,0")
os.environ.setdefault("GATEWAY_SANDBOX_SLOW_SECONDS", "0")

from whatsapp_gateway.settings import *  # noqa: F403
