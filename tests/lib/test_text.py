"""lib.text: lone surrogates found (with their field path) or replaced, in values and keys, at any depth."""

from __future__ import annotations

from whatsapp_gateway.lib.text import replace_surrogates, surrogate_path


def test_surrogate_path_names_the_field():
    assert surrogate_path({"a": [1, {"b": "ok"}, {"c": "x\ud800"}]}) == "a.2.c"
    assert surrogate_path({"k\udfff": 1}) == "k\ufffd"
    assert surrogate_path({"a": "😀 fine"}) is None
    assert surrogate_path("\ud800") == "body"


def test_replace_surrogates_everywhere_without_recursion():
    value = {"a\ud800": ["x\udc00y", {"b": "\ud83d"}], "ok": "😀"}
    assert replace_surrogates(value) == {"a\ufffd": ["x\ufffdy", {"b": "\ufffd"}], "ok": "😀"}
    nested: list = ["\ud800"]
    for _ in range(50_000):  # far deeper than the recursion limit
        nested = [nested]
    replace_surrogates(nested)
    assert surrogate_path(nested) is None
