"""docker-compose.yml, Dockerfile and .dockerignore, checked without a Docker engine (none runs in CI).

``tests/deploy/compose.py`` stands in for ``docker compose config``; where a Compose CLI is installed (CI installs
Debian's ``docker-compose``; ``config`` needs no engine) the real one validates the file too and must agree with the
stand-in. The image build itself needs a Docker engine and is untested here.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys

import pytest
import yaml
from cryptography.fernet import Fernet

from tests.deploy.compose import ROOT, SAMPLE_ENV, ComposeError, interpolate, resolve


def test_the_compose_file_resolves_like_docker_compose_config():
    config = resolve()
    assert set(config["services"]) == {"postgres", "redis", "migrate", "web", "worker"}


def test_evolution_and_waha_run_only_under_their_profiles():
    assert "evolution" in resolve(profiles=("evolution",))["services"]
    assert "waha" in resolve(profiles=("waha",))["services"]
    assert "waha" not in resolve(profiles=("evolution",))["services"]


def test_the_evolution_profile_signs_webhooks_and_keeps_messages_for_reconciliation():
    evolution = resolve(profiles=("evolution",))["services"]["evolution"]
    image, _, tag = evolution["image"].partition(":")
    # Webhook headers (the signed JWT the gateway requires by default) need Evolution 2.3+, published as evoapicloud/.
    assert image == "evoapicloud/evolution-api"
    assert tuple(int(part) for part in tag.lstrip("v").split(".")[:2]) >= (2, 3)
    env = evolution["environment"]
    assert env["DATABASE_SAVE_DATA_NEW_MESSAGE"] == "true"  # what POST /chat/findMessages reads
    assert (
        env["DATABASE_CONNECTION_URI"].startswith("postgresql://gateway:")
        and "@postgres:5432/" in env["DATABASE_CONNECTION_URI"]
    )
    assert evolution["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert env["TZ"] == "UTC"


def test_it_refuses_to_start_without_the_production_secrets():
    for name in ("POSTGRES_PASSWORD", "SECRET_KEY", "GATEWAY_ENCRYPTION_KEYS", "GATEWAY_BASE_URL"):
        env = {k: v for k, v in SAMPLE_ENV.items() if k != name}
        with pytest.raises(ComposeError, match=name):
            resolve(env=env)


def test_interpolation_follows_compose_rules():
    env = {"SET": "value", "EMPTY": ""}
    assert interpolate("${SET:-x} ${EMPTY:-x} ${EMPTY-x} ${UNSET-x} $$HOME", env) == "value x  x $HOME"
    with pytest.raises(ComposeError):
        interpolate("${EMPTY:?needed}", env)


def test_every_long_running_service_has_a_health_check_and_restarts():
    services = resolve(profiles=("evolution", "waha"))["services"]
    for name, service in services.items():
        if name == "migrate":
            continue
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
        assert service["restart"] == "unless-stopped", name


def test_web_and_worker_wait_for_healthy_databases_and_finished_migrations():
    services = resolve()["services"]
    for name in ("web", "worker"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["migrate"]["restart"] == "no"


def test_web_is_gunicorn_sized_by_env_and_checks_readiness():
    web = resolve(env={**SAMPLE_ENV, "WEB_CONCURRENCY": "6", "WEB_THREADS": "8"})["services"]["web"]
    assert web["command"] == ["web"]
    assert web["environment"]["WEB_CONCURRENCY"] == "6"
    assert web["environment"]["WEB_THREADS"] == "8"
    assert "/readyz" in " ".join(web["healthcheck"]["test"])


def test_the_worker_can_be_scaled():
    worker = resolve()["services"]["worker"]
    assert worker["command"] == ["worker"]
    # --scale worker=N needs no fixed container name and no published host port.
    assert "container_name" not in worker
    assert "ports" not in worker


def test_web_and_worker_share_one_configuration():
    services = resolve()["services"]
    web, worker = services["web"]["environment"], services["worker"]["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "GATEWAY_ENCRYPTION_KEYS", "GATEWAY_BASE_URL"):
        assert web[name] == worker[name] == services["migrate"]["environment"][name]
    assert web["DATABASE_URL"].startswith("postgres://") and web["REDIS_URL"].startswith("redis://")
    assert web["LOG_FORMAT"] == "json"


def test_the_web_environment_passes_check_deploy(tmp_path):
    secrets_env = {"GATEWAY_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SECRET_KEY": secrets.token_urlsafe(50)}
    web = resolve(env={**SAMPLE_ENV, **secrets_env})["services"]["web"]
    env = {k: str(v) for k, v in web["environment"].items()}
    env.update(
        {"GATEWAY_DATA_DIR": str(tmp_path), "PATH": os.environ["PATH"], "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    )
    result = subprocess.run(
        [sys.executable, "-m", "whatsapp_gateway", "check", "--deploy"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _dockerfile_stages() -> list[list[str]]:
    stages: list[list[str]] = []
    for line in (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_the_image_is_multi_stage_slim_and_runs_as_a_non_root_user():
    stages = _dockerfile_stages()
    assert len(stages) >= 2
    builder, runtime = stages[0], stages[-1]
    assert "slim" in runtime[0]
    assert any("pip wheel" in line for line in builder)
    assert not any("build-essential" in line for line in runtime), "no compilers in the runtime image"
    assert any(line.startswith("COPY --from=") for line in runtime)
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")


def test_the_image_checks_health_and_starts_the_gateway_command():
    runtime = _dockerfile_stages()[-1]
    assert any(line.startswith("HEALTHCHECK") and "/healthz" in line for line in runtime)
    assert 'ENTRYPOINT ["whatsapp-gateway"]' in runtime
    assert 'CMD ["web"]' in runtime


def test_the_build_context_leaves_out_local_state_and_secrets():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", ".env", "tests"} <= ignored


def _compose_cli() -> list[str] | None:
    """The real Compose CLI when one is installed: the v2 plugin, else the standalone ``docker-compose``."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _real_compose_config(tmp_path, env: dict[str, str]) -> subprocess.CompletedProcess:
    # A clean environment and an empty env file: the shell's DATABASE_URL or a developer's .env must not leak in.
    empty = tmp_path / "empty.env"
    empty.write_text("")
    command = [*_compose_cli(), "--env-file", str(empty), "--profile", "evolution", "--profile", "waha", "config"]
    clean = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **env}
    return subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(_compose_cli() is None, reason="no Docker Compose CLI installed (the stand-in checks run instead)")
def test_the_real_compose_cli_validates_the_file_and_agrees_with_the_stand_in(tmp_path):
    result = _real_compose_config(tmp_path, SAMPLE_ENV)
    assert result.returncode == 0, result.stderr
    real = yaml.safe_load(result.stdout)["services"]
    ours = resolve(profiles=("evolution", "waha"))["services"]
    assert set(real) == set(ours)
    for name, service in ours.items():
        assert ("healthcheck" in real[name]) == ("healthcheck" in service), name
        assert {k: str(v) for k, v in (real[name].get("environment") or {}).items()} == {
            k: str(v) for k, v in (service.get("environment") or {}).items()
        }, name


@pytest.mark.skipif(_compose_cli() is None, reason="no Docker Compose CLI installed")
def test_the_real_compose_cli_refuses_the_file_without_the_production_secrets(tmp_path):
    env = {k: v for k, v in SAMPLE_ENV.items() if k != "SECRET_KEY"}
    result = _real_compose_config(tmp_path, env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
