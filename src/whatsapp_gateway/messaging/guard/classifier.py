"""The content classifier: is a text utility, authentication or marketing, how sure is it, and which words say so.

A linear model (logistic regression) over four blocks of features, fitted offline by ``scripts/fit_guard_model.py``
on the labelled corpus in ``tests/data/guard/dev``:

- named signals (``data/signals.toml``: discount offers, coupon codes, calls to buy or sign up, urgency, prizes,
  loans, votes, referral rewards, win-backs, announcements, invitations, scams; and the counter-signals of orders,
  invoices, bookings, deliveries, one-time codes and security alerts), one feature each;
- the text's shape, independent of language (``#`` features: percentages, amounts, coupon-like codes, links and link
  shorteners, emoji and exclamation marks, capitals, length);
- word unigrams and bigrams, with values such as ``15%`` or ``BACK15`` replaced by their kind;
- character 3 to 5-grams inside words, which carry what a word list cannot: inflections, compounds, spelling variants
  and romanised Hindi.

The word and character blocks are each scaled to unit length, so a long text does not outweigh a short one by its
length alone. The fitted weights, the decision thresholds (chosen on held-out folds of the corpus) and the corpus
figures live in ``data/model.json``. Every verdict names its reasons from the features that pushed it towards
marketing, quoting the customer's own words.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from whatsapp_gateway.messaging.guard.signals import Hit, matcher
from whatsapp_gateway.messaging.guard.textfeatures import (
    Token,
    arabic_stem,
    char_grams,
    shape_features,
    tokenize,
    word_char_grams,
    word_grams,
)

MODEL_FILE = Path(__file__).with_name("data") / "model.json"

UTILITY = "utility"
AUTHENTICATION = "authentication"
MARKETING = "marketing"

# What the shape features mean when they are among a verdict's reasons.
_SHAPE_REASONS: dict[str, tuple[str, str, frozenset[str]]] = {
    "#has:pct": ("promotion", "percentage", frozenset({"pct"})),
    "#has:code": ("promotion", "coupon-like code", frozenset({"code"})),
    "#has:money": ("promotion", "price", frozenset({"money"})),
    "#has:shorturl": ("link", "link shortener", frozenset({"shorturl"})),
    "#has:url": ("link", "link", frozenset({"url"})),
}
_TONE_PREFIXES = ("#bang", "#emoji", "#upper")

# The length of each feature block: how strongly the fitting's regularisation holds each block back. Shape features
# are kept weak on purpose: emoji and links appear in receipts as well as in promotions.
SIGNAL_VALUE = 1.0
SHAPE_VALUE = 0.3
WORD_NORM = 4.0
CHAR_NORM = 4.0
# A block is scaled by the square root of its count, but never as if it held fewer grams than these (about a
# five-word text): one word alone must not weigh as much as a whole message.
WORD_FLOOR = 10
CHAR_FLOOR = 60


@dataclass(frozen=True, slots=True)
class Features:
    tokens: list[Token]
    hits: list[Hit]
    # feature name -> (value, token indexes it covers)
    values: dict[str, tuple[float, tuple[int, ...]]]


def extract(text: str, tokens: list[Token] | None = None, hits: list[Hit] | None = None) -> Features:
    """Every feature of the text with its value and the tokens behind it (for fitting and for explaining).

    Word and character n-grams count every occurrence, scaled by the square root of the block's total count, so
    ``Model.logit`` can sum a word's cached character-gram weights instead of rebuilding each gram."""
    tokens = tokenize(text) if tokens is None else tokens
    hits = matcher().find(tokens) if hits is None else hits
    values: dict[str, tuple[float, tuple[int, ...]]] = {}
    for hit in hits:
        name = "s:" + hit.signal.id
        covered = tuple(range(hit.first, hit.last + 1))
        previous = values.get(name)
        values[name] = (SIGNAL_VALUE, covered if previous is None else previous[1] + covered)
    for name in shape_features(text, tokens):
        kinds = _SHAPE_REASONS.get(name, (None, None, frozenset()))[2]
        values[name] = (SHAPE_VALUE, tuple(i for i, t in enumerate(tokens) if t.kind in kinds))
    for block, norm, floor in (
        (word_grams(tokens), WORD_NORM, WORD_FLOOR),
        (char_grams(tokens), CHAR_NORM, CHAR_FLOOR),
    ):
        if not block:
            continue
        scale = norm / math.sqrt(max(len(block), floor))
        positions: dict[str, list[int]] = defaultdict(list)
        for name, *covered in block:
            positions[name].append(covered[0])
            if len(covered) > 1 and covered[1] != covered[0]:
                positions[name].append(covered[1])
        counts = defaultdict(int)
        for name, *_ in block:
            counts[name] += 1
        for name, count in counts.items():
            values[name] = (count * scale, tuple(positions[name]))
    return Features(tokens, hits, values)


def feature_values(text: str) -> dict[str, float]:
    """The feature vector the model is fitted on (name -> value)."""
    return {name: value for name, (value, _) in extract(text).values.items()}


@dataclass(frozen=True)
class Model:
    version: str
    bias: float
    weights: dict[str, float]
    block_probability: float
    review_probability: float
    meta: dict = field(default_factory=dict)
    # word -> (number of its character grams, sum of their weights): words repeat, grams need not be rebuilt
    _char_sums: dict[str, tuple[int, float]] = field(default_factory=dict, repr=False, compare=False)
    _unigrams: dict[str, tuple[int, float]] = field(default_factory=dict, repr=False, compare=False)

    def char_sum(self, word: str) -> tuple[int, float]:
        cached = self._char_sums.get(word)
        if cached is None:
            grams = word_char_grams(word)
            weights = self.weights
            cached = (len(grams), sum(weights.get(g, 0.0) for g in grams))
            if len(self._char_sums) > 200_000:
                self._char_sums.clear()
            self._char_sums[word] = cached
        return cached

    def unigram(self, norm: str) -> tuple[int, float]:
        """A word's unigram features (itself, and its stem when it differs): how many, and their summed weight."""
        cached = self._unigrams.get(norm)
        if cached is None:
            weights = self.weights
            stem = arabic_stem(norm)
            if stem != norm:
                cached = (2, weights.get("w:" + norm, 0.0) + weights.get("w:" + stem, 0.0))
            else:
                cached = (1, weights.get("w:" + norm, 0.0))
            if len(self._unigrams) > 200_000:
                self._unigrams.clear()
            self._unigrams[norm] = cached
        return cached

    def logit(
        self,
        text: str,
        tokens: list[Token] | None = None,
        hits: list[Hit] | None = None,
        shapes: list[str] | None = None,
    ) -> float:
        """The model's log-odds of marketing: the same sum as over ``extract(text)``, without building it."""
        tokens = tokenize(text) if tokens is None else tokens
        hits = matcher().find(tokens) if hits is None else hits
        shapes = shape_features(text, tokens) if shapes is None else shapes
        get = self.weights.get
        z = self.bias
        for signal_id in {hit.signal.id for hit in hits}:
            z += get("s:" + signal_id, 0.0) * SIGNAL_VALUE
        for name in shapes:
            z += get(name, 0.0) * SHAPE_VALUE
        # Word grams (as ``word_grams`` lists them): every unigram, then each pair of neighbours.
        norms = [t.norm for t in tokens if t.kind != "bang"]
        if norms:
            count, total_weight = len(norms) - 1, 0.0
            previous = None
            for norm in norms:
                n, weight = self.unigram(norm)
                count += n
                total_weight += weight
                if previous is not None:
                    total_weight += get("b:" + previous + " " + norm, 0.0)
                previous = norm
            z += WORD_NORM / math.sqrt(max(count, WORD_FLOOR)) * total_weight
        total, acc = 0, 0.0
        for token in tokens:
            if token.kind == "word" and len(token.norm) >= 2:
                n, weight = self.char_sum(token.norm)
                total += n
                acc += weight
        if total:
            z += CHAR_NORM / math.sqrt(max(total, CHAR_FLOOR)) * acc
        return z

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> Model:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            version=data["version"],
            bias=float(data["bias"]),
            weights={k: float(v) for k, v in data["weights"].items()},
            block_probability=float(data["thresholds"]["block"]),
            review_probability=float(data["thresholds"]["review"]),
            meta=data.get("meta", {}),
        )


@cache
def model() -> Model:
    return Model.load()


@dataclass(frozen=True)
class Verdict:
    category: str
    confidence: float  # how sure the classifier is of ``category``, 0–1
    marketing_probability: float
    score: int  # the content part of the risk score, 0–100: >= 80 confident marketing, 50–79 doubtful
    reasons: list[str]
    highlights: list[tuple[int, int]]  # spans of the text behind the reasons
    model_version: str
    tokens: list[Token] = field(default_factory=list, repr=False, compare=False)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def score_for(probability: float, m: Model) -> int:
    """Map the marketing probability onto the risk bands: review and block start exactly at the fitted thresholds."""
    block, review = m.block_probability, m.review_probability
    if probability >= block:
        return min(99, 80 + int(19 * (probability - block) / max(1e-9, 1 - block)))
    if probability >= review:
        return min(79, 50 + int(29 * (probability - review) / max(1e-9, block - review)))
    return min(49, int(49 * probability / max(1e-9, review)))


def _quote(text: str, tokens: list[Token], indexes: list[int], limit: int = 3) -> list[str]:
    """Runs of adjacent token indexes as quoted stretches of the original text."""
    quotes: list[str] = []
    for run in _runs(sorted(set(indexes))):
        start, end = tokens[run[0]].start, tokens[run[-1]].end
        snippet = " ".join(text[start:end].split())
        if len(snippet) > 40:
            snippet = snippet[:39] + "…"
        if snippet and snippet not in quotes:
            quotes.append(snippet)
        if len(quotes) >= limit:
            break
    return quotes


def _runs(indexes: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i in indexes:
        if runs and i - runs[-1][-1] <= 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _spans(tokens: list[Token], indexes: set[int]) -> list[tuple[int, int]]:
    return [(tokens[run[0]].start, tokens[run[-1]].end) for run in _runs(sorted(indexes))]


def classify(text: str, m: Model | None = None) -> Verdict:
    m = m or model()
    tokens = tokenize(text)
    hits = matcher().find(tokens)
    shapes = shape_features(text, tokens)
    probability = _sigmoid(m.logit(text, tokens, hits, shapes))
    score = score_for(probability, m)
    reasons: list[str] = []
    highlights: list[tuple[int, int]] = []
    if score >= 50:
        category, confidence = MARKETING, probability
        reasons, highlights = _explain(text, tokens, hits, shapes, m)
    elif _is_one_time_code(tokens, hits):
        category, confidence = AUTHENTICATION, 1 - probability
    else:
        category, confidence = UTILITY, 1 - probability
    return Verdict(
        category=category,
        confidence=round(confidence, 3),
        marketing_probability=round(probability, 4),
        score=score,
        reasons=reasons,
        highlights=highlights,
        model_version=m.version,
        tokens=tokens,
    )


def _is_one_time_code(tokens: list[Token], hits: list[Hit]) -> bool:
    """A one-time code or security check: the words of one (``otp`` signal) and a code-like value beside them."""
    if not any(t.kind in {"num4", "code", "num", "ref"} for t in tokens):
        return False
    return any(hit.signal.id == "otp" for hit in hits)


def _attributions(
    tokens: list[Token], hits: list[Hit], shapes: list[str], m: Model
) -> tuple[list[tuple[float, str, set[int]]], float, dict[int, float]]:
    """What pushed the text towards marketing, computed from the same terms as ``Model.logit``: the named signals and
    value kinds with their weight and tokens, the weight of its tone, and each word's share of the n-gram weights
    (a gram's weight split evenly over the tokens it covers)."""
    weights = m.weights
    named: list[tuple[float, str, set[int]]] = []
    by_signal: dict[str, set[int]] = defaultdict(set)
    signals = {}
    for hit in hits:
        by_signal[hit.signal.id].update(range(hit.first, hit.last + 1))
        signals[hit.signal.id] = hit.signal
    for signal_id, indexes in by_signal.items():
        c = weights.get("s:" + signal_id, 0.0) * SIGNAL_VALUE
        if c > 0.05:
            signal = signals[signal_id]
            named.append((c, f"{signal.group}: {signal.label}", indexes))
    tone_weight = 0.0
    for name in shapes:
        c = weights.get(name, 0.0) * SHAPE_VALUE
        if name.startswith(_TONE_PREFIXES):
            tone_weight += max(c, 0.0)
        elif name in _SHAPE_REASONS and c > 0.05:
            group, label, kinds = _SHAPE_REASONS[name]
            indexes = {i for i, t in enumerate(tokens) if t.kind in kinds}
            if indexes:
                named.append((c, f"{group}: {label}", indexes))
    per_token: dict[int, float] = defaultdict(float)
    # The word grams as ``Model.logit`` sums them: each word's unigrams on its token, each pair of neighbours split
    # over both.
    index = [i for i, t in enumerate(tokens) if t.kind != "bang"]
    if index:
        get = weights.get
        count = len(index) - 1
        previous = None
        bigrams: list[tuple[int, int, float]] = []
        for position, i in enumerate(index):
            norm = tokens[i].norm
            n, weight = m.unigram(norm)
            count += n
            per_token[i] += weight
            if previous is not None:
                bigrams.append((index[position - 1], i, get("b:" + previous + " " + norm, 0.0)))
            previous = norm
        scale = WORD_NORM / math.sqrt(max(count, WORD_FLOOR))
        for i in index:
            per_token[i] *= scale
        for first, last, weight in bigrams:
            if weight:
                per_token[first] += weight * scale / 2
                per_token[last] += weight * scale / 2
    sums: list[tuple[int, float]] = []
    total = 0
    for i, token in enumerate(tokens):
        if token.kind == "word" and len(token.norm) >= 2:
            n, weight = m.char_sum(token.norm)
            total += n
            sums.append((i, weight))
    if total:
        scale = CHAR_NORM / math.sqrt(max(total, CHAR_FLOOR))
        for i, weight in sums:
            per_token[i] += weight * scale
    return named, tone_weight, per_token


def _explain(
    text: str, tokens: list[Token], hits: list[Hit], shapes: list[str], m: Model
) -> tuple[list[str], list[tuple[int, int]]]:
    """Reasons from the features that pushed the text towards marketing, strongest first, each quoting its words."""
    named, tone_weight, per_token = _attributions(tokens, hits, shapes, m)
    covered: set[int] = set()
    named.sort(key=lambda item: -item[0])
    merged: dict[str, tuple[float, set[int]]] = {}
    for c, reason, indexes in named:
        total, idx = merged.get(reason, (0.0, set()))
        merged[reason] = (total + c, idx | indexes)
    reasons: list[str] = []
    for reason, (_, indexes) in sorted(merged.items(), key=lambda item: -item[1][0]):
        if indexes <= covered:
            continue  # '15%' already quoted inside '15% off'
        quotes = _quote(text, tokens, list(indexes))
        if quotes:
            reasons.append(f"{reason} (" + ", ".join(f"'{q}'" for q in quotes) + ")")
            covered |= indexes
    wording = [
        i
        for i, c in sorted(per_token.items(), key=lambda item: -item[1])
        if c > 0.4 and i not in covered and tokens[i].kind == "word" and len(tokens[i].norm) >= 4
    ][:3]
    if wording:
        quotes = _quote(text, tokens, wording)
        reasons.append("marketing wording (" + ", ".join(f"'{q}'" for q in quotes) + ")")
        covered |= set(wording)
    if tone_weight > 0.2:
        loud = list(dict.fromkeys(text[t.start : t.end] for t in tokens if t.kind in {"bang", "emoji"}))
        if loud:
            reasons.append("tone: exclamation marks and emoji (" + ", ".join(f"'{g}'" for g in loud[:3]) + ")")
    if not reasons:
        # Every verdict over the review line names what it rests on, even when no single word stands out.
        top = [i for i, c in sorted(per_token.items(), key=lambda item: -item[1]) if c > 0][:3]
        quotes = _quote(text, tokens, top) if top else []
        reasons.append(
            "marketing wording (" + ", ".join(f"'{q}'" for q in quotes) + ")" if quotes else "marketing wording"
        )
    return reasons, _spans(tokens, covered)
