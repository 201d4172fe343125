"""A tiny framework for local fakes of provider HTTP APIs, served through ``httpx.MockTransport``.

A fake records every request (method, path, query, headers, JSON body) so contract tests can assert exactly what
the adapter sent, and answers with the documented responses. Fakes also build the callbacks the real provider
would post to the gateway (body + headers, signed as the provider signs them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx

Handler = Callable[..., httpx.Response]


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    json: Any

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Callback:
    """What the provider would POST to the gateway's callback URL."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def reply(status: int, body: Any = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status)
    return httpx.Response(status, json=body)


class FakeApi:
    """Routes ``(METHOD, regex on the unquoted path)`` to handler methods; unknown routes answer 404."""

    base_url = "http://fake.test"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str, handler: Handler, *, first: bool = False) -> None:
        """Add a route; ``first=True`` puts it before the others (tests overriding one answer)."""
        entry = (method, re.compile(f"^{pattern}$"), handler)
        if first:
            self._routes.insert(0, entry)
        else:
            self._routes.append(entry)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content) if request.content else None
        except ValueError:
            body = request.content.decode("utf-8", "replace")
        path = unquote(request.url.path)
        recorded = Recorded(
            method=request.method,
            path=path,
            params=dict(request.url.params),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=body,
        )
        self.requests.append(recorded)
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if method == request.method and match:
                return handler(recorded, *match.groups())
        return reply(404, {"error": f"no fake route for {request.method} {path}"})

    def calls(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)]

    def clear(self) -> None:
        self.requests.clear()
