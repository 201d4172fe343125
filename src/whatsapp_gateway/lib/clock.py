"""The one clock. Tests control it with time-machine; code never calls time.sleep to wait for time to pass."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()
