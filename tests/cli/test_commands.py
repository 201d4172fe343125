"""The command line: ``demo`` (idempotent, ``--json`` prints one object) and ``check`` (also ``--deploy``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from whatsapp_gateway.accounts.models import Account, Membership, User
from whatsapp_gateway.cli import build_parser, main


def run_demo_json(capsys) -> dict:
    main(["demo", "--json"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line of JSON, got:\n{out}"
    return json.loads(lines[0])


@pytest.mark.django_db
def test_demo_json_prints_one_object_with_the_login(capsys):
    result = run_demo_json(capsys)
    assert result["email"] == "demo@example.com"
    assert result["password"]
    assert result["account_id"].startswith("acc_")
    assert result["portal_url"].endswith("/accounts/login/")
    assert result["created"] is True


@pytest.mark.django_db
def test_demo_is_idempotent(capsys):
    first = run_demo_json(capsys)
    second = run_demo_json(capsys)
    assert second["account_id"] == first["account_id"]
    assert second["created"] is False
    assert User.objects.filter(email="demo@example.com").count() == 1
    assert Account.objects.filter(name="Demo Business").count() == 1
    assert Membership.objects.filter(user__email="demo@example.com", role="owner").count() == 1
    if "instance_id" in first:
        assert second["instance_id"] == first["instance_id"]


@pytest.mark.django_db
def test_the_demo_login_works_on_the_login_form(capsys, client):
    result = run_demo_json(capsys)
    response = client.post("/accounts/login/", {"login": result["email"], "password": result["password"]})
    assert response.status_code == 302
    assert client.get("/instances").status_code == 200


@pytest.mark.django_db
def test_demo_without_json_prints_the_banner(capsys):
    main(["demo"])
    out = capsys.readouterr().out
    assert "Login:    demo@example.com" in out
    assert "Password: " in out


def test_every_documented_subcommand_exists():
    parser = build_parser()
    for argv in (["run", "--host", "0.0.0.0", "--port", "9000"], ["web"], ["worker"], ["migrate"], ["check"], ["demo"]):
        assert parser.parse_args(argv).func


# Set for the test run itself (tests/settings.py, tests/browser/conftest.py), never for a real gateway process.
_TEST_ONLY_ENV = {"DATABASE_URL", "REDIS_URL", "HUEY_IMMEDIATE", "DJANGO_ALLOW_ASYNC_UNSAFE"}


def _cli_env(tmp_path, **extra) -> dict:
    """The embedded default in a fresh data directory: no PostgreSQL/Redis from the test run, no eager jobs."""
    env = {k: v for k, v in os.environ.items() if k not in _TEST_ONLY_ENV}
    env.update(GATEWAY_DATA_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="whatsapp_gateway.settings", **extra)
    return env


def test_python_m_whatsapp_gateway_check_passes(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "whatsapp_gateway", "check"],
        env=_cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = _cli_env(
        tmp_path,
        GATEWAY_BASE_URL="https://gateway.example.com",
        SECRET_KEY="a-production-secret-key-that-is-long-and-random-" + "x7Q2" * 8,
    )
    result = subprocess.run(
        [sys.executable, "-m", "whatsapp_gateway", "check", "--deploy"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_fails_on_a_laptop_configuration(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "whatsapp_gateway", "check", "--deploy"],
        env=_cli_env(tmp_path, DEBUG="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DEBUG" in result.stdout + result.stderr


def test_the_web_command_is_gunicorn_without_the_per_user_control_socket():
    """Two web processes of one user (blue/green, a second site) would share ~/.gunicorn/gunicorn.ctl otherwise."""
    from whatsapp_gateway.cli import _web_command

    command = _web_command("127.0.0.1", 8000, 2, 4)
    assert command[1:4] == ["-m", "gunicorn", "whatsapp_gateway.wsgi:application"]
    assert "--no-control-socket" in command
    help_text = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--no-control-socket" in help_text  # the pinned gunicorn knows the flag
