"""A scripted person in the portal over real HTTP: sign in, fill a form from its own defaults, read what a page shows.
Used by the real-process 3CX test and handy for a walkthrough from a shell (``python -m tests.threecx.portal_session``).
"""

from __future__ import annotations

import html
import re
import sys
from html.parser import HTMLParser

import httpx


class _FormFields(HTMLParser):
    """The successful controls of the first ``<form>`` whose class contains ``form_class`` (as a browser posts it)."""

    def __init__(self, form_class: str) -> None:
        super().__init__()
        self.form_class = form_class
        self.inside = False
        self.done = False
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and not self.done and self.form_class in a.get("class", "").split():
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[name] = a.get("value") or "on"
            elif kind not in ("submit", "button"):
                self.fields[name] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None and value:
                self._first_option = value
            if "selected" in a:
                self.fields[self._select] = value

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea:
            self.fields[self._textarea] = self.fields[self._textarea].removeprefix("\n")
            self._textarea = None
        elif tag == "select" and self._select:
            if not self.fields.get(self._select) and self._first_option is not None:
                self.fields[self._select] = self._first_option  # the first real choice, as a person would pick
            self._select = None
        elif tag == "form" and self.inside:
            self.inside, self.done = False, True


def form_fields(page: str, form_class: str) -> dict[str, str]:
    parser = _FormFields(form_class)
    parser.feed(page)
    return parser.fields


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not match:
        raise AssertionError("no CSRF token on the page")
    return match.group(1)


def code_text(page: str, element_id: str) -> str:
    """The text of ``<code id=element_id>`` (a value the page offers to copy)."""
    match = re.search(rf'<code id="{re.escape(element_id)}">([^<]*)</code>', page)
    if not match:
        raise AssertionError(f"no <code id={element_id}> on the page")
    return html.unescape(match.group(1))


class Portal:
    """One signed-in browser session (cookies + CSRF), redirects followed like a browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, follow_redirects=True, timeout=30)

    def login(self, email: str, password: str) -> None:
        page = self.http.get("/accounts/login/").text
        answer = self.http.post(
            "/accounts/login/",
            data={"csrfmiddlewaretoken": csrf_token(page), "login": email, "password": password},
            headers={"Referer": f"{self.base_url}/accounts/login/"},
        )
        if "/accounts/login/" in str(answer.url):
            raise AssertionError(f"sign-in failed ({answer.status_code})")

    def get(self, path: str) -> str:
        answer = self.http.get(path)
        answer.raise_for_status()
        return answer.text

    def submit(self, path: str, form_class: str, changes: dict[str, str | None]) -> httpx.Response:
        """Open ``path``, keep the form's defaults, apply ``changes`` (``None`` unticks / removes), post it."""
        page = self.get(path)
        data = form_fields(page, form_class)
        for name, value in changes.items():
            if value is None:
                data.pop(name, None)
            else:
                data[name] = value
        data["csrfmiddlewaretoken"] = csrf_token(page)
        return self.http.post(path, data=data, headers={"Referer": f"{self.base_url}{path}"})

    def post(self, path: str, data: dict[str, str], *, csrf_from: str) -> httpx.Response:
        """A button form on ``csrf_from`` (a page that carries a CSRF token)."""
        token = csrf_token(self.get(csrf_from))
        return self.http.post(
            path, data={**data, "csrfmiddlewaretoken": token}, headers={"Referer": f"{self.base_url}{csrf_from}"}
        )


if __name__ == "__main__":  # quick check from a shell: python -m tests.threecx.portal_session URL EMAIL PASSWORD
    portal = Portal(sys.argv[1])
    portal.login(sys.argv[2], sys.argv[3])
    print("signed in; 3CX page:", len(portal.get("/integrations/3cx")), "bytes")
