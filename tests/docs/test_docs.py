"""The repository's own documentation stays usable: links resolve, every setting is documented, and the code cites
``docs/`` rather than documents a clone does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SETTINGS = ROOT / "src" / "whatsapp_gateway" / "settings.py"

_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (.+)$")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _prose_lines(path: Path):
    """(line number, line) outside fenced code blocks."""
    in_code = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code:
            yield number, line


def _anchors(path: Path) -> set[str]:
    return {_anchor(m.group(1)) for _, line in _prose_lines(path) if (m := _HEADING.match(line))}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(doc):
    broken = []
    for number, line in _prose_lines(doc):
        for target in _LINK.findall(line):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            resolved = (doc.parent / path).resolve() if path else doc
            if not resolved.exists():
                broken.append(f"{doc.name}:{number}: {target} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{doc.name}:{number}: {target} (no such heading)")
    assert not broken, "\n".join(broken)


def test_readme_stays_an_introduction():
    """The README orients a newcomer (start, test, a tour, links); the manual lives in docs/."""
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def test_every_setting_is_documented():
    read = set(re.findall(r"env_(?:str|bool|int|list|secret)\(\s*\"([A-Z][A-Z0-9_]+)\"", SETTINGS.read_text()))
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert read, "settings.py reads no variables? the pattern is out of date"
    assert not sorted(name for name in read if f"`{name}`" not in documented)


def test_code_cites_the_repository_docs():
    """Comments point to docs/ in this repository, never to design documents a clone does not have."""
    cited = re.compile(r"CONTRACT\.md|DESIGN\.md|STYLE\.md|reference/[a-z-]+\.md|\.\./shared")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("src", "tests", "bench", "scripts", "clients")
        for path in (ROOT / folder).rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if cited.search(line) and path != Path(__file__).resolve()
    ]
    assert not offenders, offenders
