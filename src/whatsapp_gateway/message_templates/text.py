"""Template bodies as text: ``{{n}}`` variables, validation, rendering and matching a sent text.

Framework-free and pure: the selectors cache what ``segments`` returns, and ``match_segments`` runs on every send
of an account that has approved templates, so it is a linear scan (``str.find``), never a backtracking regex.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

VARIABLE = re.compile(r"\{\{\s*(\d{1,3})\s*\}\}")
_STRAY_BRACES = re.compile(r"\{\{|\}\}")
_WORD = re.compile(r"\w+")
_WHITESPACE = re.compile(r"\s+")

MIN_FIXED_WORDS = 3
MAX_VARIABLES = 20


class TemplateTextError(ValueError):
    """A body or a list of variables that cannot be used; ``str(exc)`` is shown to the customer."""


def variable_numbers(body: str) -> list[int]:
    """The variable numbers in order of appearance (``"{{2}} {{1}}"`` -> ``[2, 1]``)."""
    return [int(m.group(1)) for m in VARIABLE.finditer(body)]


def variable_count(body: str) -> int:
    """How many distinct variables a body has (they are numbered 1..n)."""
    return len(set(variable_numbers(body)))


def validate_body(body: str, *, max_chars: int) -> None:
    """Raise ``TemplateTextError`` unless ``body`` is a usable template text: variables ``{{1}}`` … ``{{n}}`` with
    no gaps, no other braces, text between two variables, and at least ``MIN_FIXED_WORDS`` fixed words (a template
    that is mostly variables would let almost any text through)."""
    text = body.strip()
    if not text:
        raise TemplateTextError("The text is empty.")
    if len(text) > max_chars:
        raise TemplateTextError(f"The text is longer than {max_chars} characters.")
    if _STRAY_BRACES.search(VARIABLE.sub("", text)):
        raise TemplateTextError("Write variables as {{1}}, {{2}} … (numbers only, in double braces).")
    numbers = variable_numbers(text)
    if len(set(numbers)) > MAX_VARIABLES:
        raise TemplateTextError(f"At most {MAX_VARIABLES} variables.")
    if set(numbers) != set(range(1, len(set(numbers)) + 1)):
        raise TemplateTextError("Number the variables from {{1}} without gaps: {{1}}, {{2}}, {{3}} …")
    fixed = VARIABLE.split(text)[::2]
    if any(not part.strip() for part in fixed[1:-1]):
        raise TemplateTextError("Put some fixed text between two variables.")
    if sum(len(_WORD.findall(part)) for part in fixed) < MIN_FIXED_WORDS:
        raise TemplateTextError(f"The fixed (non-variable) part needs at least {MIN_FIXED_WORDS} words.")


def render(body: str, variables: Sequence[str]) -> str:
    """``body`` with ``{{n}}`` replaced by ``variables[n-1]``. Raises ``TemplateTextError`` when the count differs
    or a value is empty."""
    expected = variable_count(body)
    if len(variables) != expected:
        raise TemplateTextError(f"This template takes {expected} variable(s); {len(variables)} given.")
    values = [str(v).strip() for v in variables]
    for index, value in enumerate(values, start=1):
        if not value:
            raise TemplateTextError(f"Variable {{{{{index}}}}} is empty.")
    return VARIABLE.sub(lambda m: values[int(m.group(1)) - 1], body).strip()


def normalise(text: str) -> str:
    """What matching compares: Unicode-compatible forms folded (NFKC), case folded, whitespace runs as one space."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def segments(body: str) -> tuple[str, ...]:
    """The normalised fixed parts around the variables: ``"Order {{1}} shipped"`` -> ``("order ", " shipped")``.
    A body with n variables gives n + 1 parts (empty at either end when it starts or ends with a variable)."""
    return tuple(VARIABLE.split(normalise(body))[::2])


def match_segments(parts: Sequence[str], text: str) -> tuple[str, ...] | None:
    """The variable values when the normalised ``text`` is ``parts`` with a non-empty run of text in place of each
    variable, else ``None``. Leftmost placement of each middle part is enough (glob matching): it leaves the most
    room for what follows."""
    if len(parts) == 1:
        return () if text == parts[0] else None
    head, tail = parts[0], parts[-1]
    tail_start = len(text) - len(tail)
    if not text.startswith(head) or not text.endswith(tail) or tail_start < len(head) + 1:
        return None
    values: list[str] = []
    position = len(head)
    for part in parts[1:-1]:
        found = text.find(part, position + 1, tail_start - 1) if part else position + 1
        if found < 0:
            return None
        values.append(text[position:found])
        position = found + len(part)
    if position >= tail_start:
        return None
    values.append(text[position:tail_start])
    return tuple(values)


def fixed_length(parts: Sequence[str]) -> int:
    """How much fixed text a template has: more specific templates are tried first."""
    return sum(len(p) for p in parts)
