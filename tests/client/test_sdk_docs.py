"""``/docs/sdk/python``: linked from /docs, every example is valid Python that imports only what the client
exports, and its tables name the client's real exception and event classes."""

from __future__ import annotations

import ast
import html
import re

import pytest

import whatsapp_gateway_client as wgc

pytestmark = pytest.mark.django_db


def _code_blocks(page: str) -> list[str]:
    return [html.unescape(block) for block in re.findall(r"<pre><code>(.*?)</code></pre>", page, re.S)]


def test_docs_index_links_the_python_sdk(client) -> None:
    assert 'href="/docs/sdk/python"' in client.get("/docs").content.decode()


def test_every_example_compiles_and_imports_real_names(client) -> None:
    page = client.get("/docs/sdk/python").content.decode()
    blocks = [b for b in _code_blocks(page) if "import" in b]
    assert len(blocks) >= 7  # send, errors, async, receiver, Django, Flask, FastAPI
    imported: set[str] = set()
    for block in blocks:
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "whatsapp_gateway_client":
                imported |= {alias.name for alias in node.names}
    assert imported and imported <= set(wgc.__all__), imported - set(wgc.__all__)


def test_the_tables_name_the_clients_classes(client) -> None:
    page = client.get("/docs/sdk/python").content.decode()
    for code, cls in wgc.ERROR_CLASSES.items():
        row = rf"<tr><td><code>{code}</code></td><td>\d{{3}}</td><td><code>{cls.__name__}</code></td></tr>"
        assert re.search(row, page), code
    for name, cls in wgc.EVENT_CLASSES.items():
        if name != "webhook.test":
            assert f"<tr><td><code>{name}</code></td><td><code>{cls.__name__}</code></td>" in page, name
