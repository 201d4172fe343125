"""Schemathesis against the live server's /openapi.json: hundreds of generated requests, never a 5xx."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from bench.gateway_server import GatewayServer

pytestmark = pytest.mark.slow


def _free_port() -> int:
    """A port nobody listens on: several test runs share this machine, so a fixed port could reach another run's
    server or fail to bind."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_schemathesis_finds_no_server_errors(tmp_path):
    st = Path(sys.executable).with_name("schemathesis")
    if not st.exists() and shutil.which("schemathesis") is None:
        pytest.skip("schemathesis is not installed")
    with GatewayServer(port=_free_port()) as server:
        result = subprocess.run(
            [
                str(st),
                "run",
                f"{server.url}/openapi.json",
                "-H",
                f"Authorization: Bearer {server.demo['api_key']}",
                "--checks",
                "not_a_server_error",
                "--include-path-regex",
                "^/api/",
                "--max-examples",
                "60",
                "--seed",
                "20261124",
                "--rate-limit",
                "100000/m",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    generated = re.search(r"(\d+) generated", output)
    assert generated and int(generated.group(1)) >= 300, output[-2000:]
