"""Schemathesis over the whole public /openapi.json (send, message status and the 3CX webhook) against a real
gunicorn server: at least 1,000 generated requests and never a 5xx. (tests/messaging/test_openapi_fuzz.py is
the quicker /api/-only run.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bench.gateway_server import GatewayServer

from tests.tallies import SECURITY as TALLY

pytestmark = pytest.mark.slow


def test_a_thousand_generated_requests_cause_no_server_error(tmp_path):
    st = Path(sys.executable).with_name("schemathesis")
    if not st.exists() and shutil.which("schemathesis") is None:
        pytest.skip("schemathesis is not installed")
    with GatewayServer(port=8871, extra_env={"GATEWAY_AUTH_FAILURES_PER_MINUTE": "100000"}) as server:
        result = subprocess.run(
            [
                str(st),
                "run",
                f"{server.url}/openapi.json",
                "-H",
                f"Authorization: Bearer {server.demo['api_key']}",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                "130",
                "--seed",
                "8808",
                "--rate-limit",
                "100000/m",
                "--request-timeout",
                "60",
                "--request-retries",
                "3",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=1500,
            cwd=tmp_path,
        )
    output = result.stdout + result.stderr
    generated = re.search(r"(\d+) generated", output)
    count = int(generated.group(1)) if generated else 0
    TALLY["schemathesis: generated requests"] += count
    assert result.returncode == 0, output[-4000:]
    assert count >= 1000, output[-2000:]
