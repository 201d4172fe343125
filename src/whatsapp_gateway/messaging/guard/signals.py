"""The named signals of the content classifier (``data/signals.toml``) and the matcher that finds them in a text.

Matching is by whole normalised words with a dictionary keyed on a phrase's first word, so it costs a few lookups per
word whatever the number of phrases (a regular-expression alternation of a thousand phrases would be far slower).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from whatsapp_gateway.messaging.guard.textfeatures import Token, arabic_stem, tokenize

SIGNALS_FILE = Path(__file__).with_name("data") / "signals.toml"


@dataclass(frozen=True, slots=True)
class Signal:
    id: str
    group: str
    label: str


@dataclass(frozen=True, slots=True)
class Hit:
    signal: Signal
    first: int  # token indexes, inclusive
    last: int


@dataclass(frozen=True, slots=True)
class _Phrase:
    words: tuple[str, ...]
    prefix: tuple[bool, ...]  # the word ended in "*": any word starting with it matches
    signal: Signal


def _key(word: str) -> str:
    return word if word.startswith("<") else arabic_stem(word)


def _phrase_words(phrase: str) -> list[str]:
    """A phrase as the matcher's words: placeholders kept, everything else normalised and split like a text."""
    words: list[str] = []
    for part in phrase.split():
        if part.startswith("<") and part.endswith(">"):
            words.append(part)
            continue
        star = part.endswith("*")
        pieces = [t.norm for t in tokenize(part.rstrip("*")) if t.kind not in {"bang"}]
        if star and pieces:
            pieces[-1] += "*"
        words.extend(pieces)
    return words


class Matcher:
    def __init__(self, table: dict[str, dict]) -> None:
        self.signals: dict[str, Signal] = {}
        self._exact: dict[str, list[_Phrase]] = {}
        self._prefix: dict[str, list[_Phrase]] = {}
        lengths: set[int] = set()
        for signal_id, spec in table.items():
            signal = Signal(signal_id, spec["group"], spec["label"])
            self.signals[signal_id] = signal
            for phrase in spec["phrases"]:
                words = _phrase_words(phrase)
                if not words or all(w.startswith("<") for w in words):
                    continue  # a phrase of placeholders alone would fire on every reference or number
                prefix = tuple(w.endswith("*") for w in words)
                keys = tuple(_key(w.rstrip("*")) for w in words)
                entry = _Phrase(keys, prefix, signal)
                if prefix[0]:
                    self._prefix.setdefault(keys[0], []).append(entry)
                    lengths.add(len(keys[0]))
                else:
                    self._exact.setdefault(keys[0], []).append(entry)
        self._lengths = sorted(lengths)
        self._cache: dict[str, tuple[_Phrase, ...]] = {}

    def _candidates(self, key: str) -> tuple[_Phrase, ...]:
        """The phrases that can start at a word with this key (cached: the same words recur in every message)."""
        cached = self._cache.get(key)
        if cached is None:
            candidates = list(self._exact.get(key, ()))
            for length in self._lengths:
                if length > len(key):
                    break
                candidates.extend(self._prefix.get(key[:length], ()))
            cached = tuple(candidates)
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def find(self, tokens: list[Token]) -> list[Hit]:
        index = [i for i, t in enumerate(tokens) if t.kind != "bang"]
        norms = [tokens[i].norm for i in index]
        keys = [_key(n) for n in norms]
        n_keys = len(keys)
        hits: list[Hit] = []
        seen: set[tuple[str, int]] = set()
        candidates = self._candidates
        for j, key in enumerate(keys):
            for phrase in candidates(key):
                end = j + len(phrase.words)
                if end > n_keys:
                    continue
                for k in range(1, len(phrase.words)):
                    word = phrase.words[k]
                    if phrase.prefix[k]:
                        if not (keys[j + k].startswith(word) or norms[j + k].startswith(word)):
                            break
                    elif keys[j + k] != word:
                        break
                else:
                    marker = (phrase.signal.id, j)
                    if marker not in seen:
                        seen.add(marker)
                        hits.append(Hit(phrase.signal, index[j], index[end - 1]))
        return hits


@cache
def matcher() -> Matcher:
    with SIGNALS_FILE.open("rb") as handle:
        return Matcher(tomllib.load(handle))
