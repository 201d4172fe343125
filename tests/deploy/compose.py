"""A stand-in for ``docker compose config`` where no Docker is installed: load docker-compose.yml with PyYAML
(merge keys resolved), interpolate ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``${VAR:?error}`` and
``$$`` the way Compose does, and check the result against the parts of the Compose schema the file uses.

``python -m tests.deploy.compose [--profile P]`` prints the resolved file, like ``docker compose config``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
SAMPLE_ENV = {
    "POSTGRES_PASSWORD": "pg-secret",
    "GATEWAY_BASE_URL": "https://gateway.example.com",
    "SECRET_KEY": "k" * 50,
    "GATEWAY_ENCRYPTION_KEYS": "x" * 43 + "=",
}
_VAR = re.compile(
    r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)

SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "volumes", "ports", "depends_on",
    "healthcheck", "restart", "profiles", "user", "deploy", "expose", "labels", "networks", "working_dir",
}  # fmt: skip
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "disable"}
DEPENDS_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART_VALUES = {"no", "always", "on-failure", "unless-stopped"}


class ComposeError(ValueError):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    def replace(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        if op in (":-", "-"):
            missing = current is None or (op == ":-" and current == "")
            return arg if missing else current
        if op in (":?", "?"):
            missing = current is None or (op == ":?" and current == "")
            if missing:
                raise ComposeError(f"required variable {name} is missing a value: {arg}")
            return current
        return current or ""

    return _VAR.sub(replace, value)


def _walk(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(item, env) for item in node]
    if isinstance(node, dict):
        return {key: _walk(value, env) for key, value in node.items()}
    return node


def _check(config: dict) -> None:
    if (
        set(config)
        - {"services", "volumes", "networks", "secrets", "configs", "name"}
        - {k for k in config if k.startswith("x-")}
    ):
        raise ComposeError(f"unknown top-level keys: {sorted(config)}")
    services = config.get("services") or {}
    volumes = set((config.get("volumes") or {}).keys())
    for name, service in services.items():
        unknown = set(service) - SERVICE_KEYS
        if unknown:
            raise ComposeError(f"service {name}: unknown keys {sorted(unknown)}")
        if "image" not in service and "build" not in service:
            raise ComposeError(f"service {name}: needs image or build")
        if service.get("restart", "no") not in RESTART_VALUES:
            raise ComposeError(f"service {name}: bad restart {service['restart']!r}")
        health = service.get("healthcheck")
        if health is not None:
            if set(health) - HEALTHCHECK_KEYS:
                raise ComposeError(f"service {name}: unknown healthcheck keys {sorted(set(health) - HEALTHCHECK_KEYS)}")
            test = health.get("test")
            if not (isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL", "NONE")):
                raise ComposeError(f"service {name}: healthcheck.test must be a CMD / CMD-SHELL list")
        depends = service.get("depends_on") or {}
        for dependency, spec in depends.items() if isinstance(depends, dict) else ((d, {}) for d in depends):
            if dependency not in services:
                raise ComposeError(f"service {name}: depends on unknown service {dependency}")
            condition = (spec or {}).get("condition", "service_started")
            if condition not in DEPENDS_CONDITIONS:
                raise ComposeError(f"service {name}: bad depends_on condition {condition}")
            if condition == "service_healthy" and "healthcheck" not in services[dependency]:
                raise ComposeError(f"service {name}: waits for {dependency} to be healthy, which has no healthcheck")
        env = service.get("environment") or {}
        if not isinstance(env, dict) or any(
            not isinstance(v, str | int | float | bool | type(None)) for v in env.values()
        ):
            raise ComposeError(f"service {name}: environment must map names to scalars")
        for mount in service.get("volumes") or []:
            source = mount.split(":", 1)[0]
            if not source.startswith((".", "/")) and source not in volumes:
                raise ComposeError(f"service {name}: volume {source} is not declared")


def resolve(env: dict[str, str] | None = None, profiles: tuple[str, ...] = (), path: Path = COMPOSE_FILE) -> dict:
    """The file as Compose would run it: interpolated, merged, profile-filtered and checked."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    config = _walk(raw, dict(SAMPLE_ENV if env is None else env))
    config = {k: v for k, v in config.items() if not k.startswith("x-")}
    _check(config)
    config["services"] = {
        name: service
        for name, service in config["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & set(profiles)
    }
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate and print docker-compose.yml (docker compose config)")
    parser.add_argument("--profile", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        config = resolve(profiles=tuple(args.profile))
    except ComposeError as exc:
        print(f"invalid compose file: {exc}", file=sys.stderr)
        return 1
    print(yaml.safe_dump(config, sort_keys=False, width=120), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
