"""Playwright driving Debian's Chromium (no browser download).

Every test here is marked ``browser`` and skipped with a reason when /usr/bin/chromium is missing.
The app is served by pytest-django's ``live_server``; ORM access from the test thread needs the async guard off.
"""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(__file__)
    missing = not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM))
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium)"))


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture
def browser_context_args():
    # The plugin's session-scoped version asks for ``base_url``, which is function-scoped here (live_server).
    return {}


@pytest.fixture
def base_url(live_server):
    return live_server.url


@pytest.fixture
def logged_in_page(page, base_url, owner_alice):
    """A Playwright page signed in as Alice (owner) through the real login form."""
    from tests.factories import PASSWORD

    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=login]", owner_alice.user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/dashboard")
    return page
