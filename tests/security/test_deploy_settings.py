"""``check --deploy`` is clean with production settings, and those settings turn on every HTTPS protection."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from cryptography.fernet import Fernet

from tests.tallies import SECURITY as TALLY

PRODUCTION = {
    "GATEWAY_BASE_URL": "https://gateway.example.com",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "GATEWAY_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
}


def _run(tmp_path, *args: str) -> subprocess.CompletedProcess:
    # (DJANGO_ALLOW_ASYNC_UNSAFE is set by the browser-test fixtures in this process; production never sets it.)
    drop = (
        "DJANGO_SETTINGS_MODULE",
        "HUEY_IMMEDIATE",
        "DEBUG",
        "PROMETHEUS_MULTIPROC_DIR",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
    )
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(PRODUCTION, GATEWAY_DATA_DIR=str(tmp_path))
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def test_check_deploy_reports_no_issues(tmp_path):
    result = _run(tmp_path, "-m", "whatsapp_gateway", "check", "--deploy")
    TALLY["check --deploy runs"] += 1
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_enable_https_protections(tmp_path):
    code = (
        "import django, os, json; os.environ['DJANGO_SETTINGS_MODULE'] = 'whatsapp_gateway.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS, s.DEBUG, s.LOG_FORMAT, s.METRICS_ALLOWED_IPS, 'unsafe-inline' in s.GATEWAY_CSP]))"
    )
    result = _run(tmp_path, "-c", code)
    assert result.returncode == 0, result.stderr
    ssl, session, csrf, hsts, debug, log_format, metrics_ips, inline = __import__("json").loads(result.stdout)
    assert ssl and session and csrf and hsts >= 31536000
    assert not debug and log_format == "json" and metrics_ips == [] and not inline
