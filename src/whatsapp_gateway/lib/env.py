"""Strict environment-variable helpers for settings.py.

Every helper supports ``NAME_FILE`` (read the value from a file, for Docker/Kubernetes secrets) and raises
``ImproperlyConfigured`` on a malformed value instead of silently falling back.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str | None:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE points to an unreadable file: {exc}") from exc
    value = os.environ.get(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    raw = env_str(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = env_str(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = env_str(name)
    if raw is None or raw.strip() == "":  # empty means unset, as in .env.example (``ALLOWED_HOSTS=``)
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, generated_file: Path, generator) -> str:
    """Return the secret from the environment, else from ``generated_file``, generating it on first run.

    The generated file is created with mode 0600 under the data directory and is never committed.
    """
    value = env_str(name)
    if value:
        return value
    if generated_file.exists():
        return generated_file.read_text(encoding="utf-8").strip()
    generated_file.parent.mkdir(parents=True, exist_ok=True)
    secret = generator()
    fd = os.open(generated_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret)
    return secret
