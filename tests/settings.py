"""Test settings: the production settings module, with test-only environment applied first.

Settings read the environment at import time, so the data directory and eager jobs are set before the import.
"""

import os
import re
import tempfile

os.environ.setdefault("GATEWAY_DATA_DIR", tempfile.mkdtemp(prefix="wg-test-"))
os.environ.setdefault("HUEY_IMMEDIATE", "1")
# Sandbox provider: receipts without delay and no slow-provider pause (tests move the clock, never sleep).
os.environ.setdefault("GATEWAY_SANDBOX_STATUS_DELAYS", "0,0,0")
os.environ.setdefault("GATEWAY_SANDBOX_SLOW_SECONDS", "0")

# Under pytest-xdist every worker gets its own Redis database: the suite clears the cache around every test, and the
# job queue must not hand one worker's jobs to another. The variable is rewritten before the settings read it, so
# the processes the tests start inherit the same database.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
_redis = re.fullmatch(r"(rediss?://[^/]+)(?:/(\d+))?", os.environ.get("REDIS_URL", ""))
if _worker.startswith("gw") and _redis:
    os.environ["REDIS_URL"] = f"{_redis.group(1)}/{int(_redis.group(2) or 0) + 1 + int(_worker[2:])}"

from whatsapp_gateway.settings import *  # noqa: E402, F403  (the environment above comes first)

# SQLite: the test database is a file, not Django's default in-memory one. An in-memory database has one connection,
# which the live server's request threads share with each other and the test thread; concurrent requests (the
# dashboard loads its charts in parallel) then hung on it from time to time, as Django's documentation warns. With a
# file each thread has its own connection, as in production. pytest-django adds the xdist worker to the name.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
