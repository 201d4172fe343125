"""Invalid Unicode in parsed JSON: a ``\\ud800`` escape decodes to a lone surrogate, which no database or UTF-8
encoder accepts. Requests from customers are refused (``surrogate_path``); provider events are kept with U+FFFD in
place of each lone surrogate (``replace_surrogates``), so the message is stored rather than failing every retry.

Both walk the structure iteratively: JSON as deep as the parser allows cannot overflow the stack here.
"""

from __future__ import annotations

import re
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def has_surrogate(value: str) -> bool:
    return _SURROGATE.search(value) is not None


def surrogate_path(value: Any) -> str | None:
    """The dotted path of the first string (value or key) holding a lone surrogate, else ``None``."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if has_surrogate(item):
                return path or "body"
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and has_surrogate(key):
                    return _SURROGATE.sub(REPLACEMENT, child_path)
                stack.append((child, child_path))
        elif isinstance(item, list):
            stack.extend((child, f"{path}.{i}" if path else str(i)) for i, child in enumerate(item))
    return None


def replace_surrogates(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings and keys replaced by U+FFFD (containers fixed in place)."""
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACEMENT, value)
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key in list(item):
                child = item[key]
                if isinstance(child, str):
                    child = _SURROGATE.sub(REPLACEMENT, child)
                else:
                    stack.append(child)
                if isinstance(key, str) and has_surrogate(key):
                    del item[key]
                    key = _SURROGATE.sub(REPLACEMENT, key)
                item[key] = child
        elif isinstance(item, list):
            for i, child in enumerate(item):
                if isinstance(child, str):
                    item[i] = _SURROGATE.sub(REPLACEMENT, child)
                else:
                    stack.append(child)
    return value
