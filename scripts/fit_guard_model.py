"""Fit the content classifier's weights and thresholds on the development corpus; write the model file.

    .venv/bin/python scripts/fit_guard_model.py            # fit, report, write the model file
    .venv/bin/python scripts/fit_guard_model.py --dry-run  # fit and report only

Reads every ``tests/data/guard/dev/*.jsonl`` (text, language, label, note, hard). The validation split in
``tests/data/guard/validation`` is never read here: it measures the result (``whatsapp-gateway guard eval``).

Steps, all deterministic (fixed fold assignment, a solver without randomness):
1. features for every text (``messaging/guard/classifier.py``, the same code the guard runs);
2. keep the features seen in at least two texts (named signals and shape features always);
3. choose the regularisation strength by cross-validation with one fold per writing batch (the files' name before
   the first ``_``: each batch was written by a different writer), so every text is scored by a model that never
   saw its writer's style, as the guard will meet texts nobody here wrote (logistic regression on
   naive-Bayes-scaled features, see ``NbLogistic``);
4. on those out-of-fold probabilities choose the thresholds: ``block`` is the lowest probability at which at most
   1.5 % of the (deliberately tricky) legitimate texts would be blocked, ``review`` the lowest at which at most
   5 % would be reviewed;
5. fit on the whole corpus, drop negligible weights, write ``src/whatsapp_gateway/messaging/guard/data/model.json``.

scikit-learn is a development dependency only: the running guard reads the JSON file with plain Python.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, diags
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from whatsapp_gateway.messaging.guard.classifier import MODEL_FILE, feature_values  # noqa: E402

DEV_DIR = ROOT / "tests" / "data" / "guard" / "dev"
C_GRID = (8.0,)
MAX_LEGIT_BLOCKED = 0.015
MAX_LEGIT_REVIEWED = 0.05
MIN_WEIGHT = 0.002
NB_ALPHA = 1.0


def load(directory: Path) -> list[dict]:
    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append(json.loads(line) | {"batch": batch_of(path)})
    return rows


def batch_of(path: Path) -> str:
    """The writing batch of a corpus file: ``more_fr.jsonl`` -> ``more``; the first batch has bare names."""
    return path.stem.split("_")[0] if "_" in path.stem else "first"


def matrix(vectors: list[dict[str, float]], vocabulary: dict[str, int]) -> csr_matrix:
    data, rows, cols = [], [], []
    for r, vector in enumerate(vectors):
        for name, value in vector.items():
            c = vocabulary.get(name)
            if c is not None:
                rows.append(r)
                cols.append(c)
                data.append(value)
    return csr_matrix((data, (rows, cols)), shape=(len(vectors), len(vocabulary)), dtype=np.float64)


def build_vocabulary(vectors: list[dict[str, float]]) -> dict[str, int]:
    df = Counter(name for vector in vectors for name in vector)
    names = sorted(n for n, count in df.items() if count >= 2 or n.startswith(("s:", "#")))
    return {name: i for i, name in enumerate(names)}


class NbLogistic:
    """Logistic regression on features scaled by their naive-Bayes log-count ratio (Wang and Manning's NBSVM, with
    a logistic loss): a feature seen mostly in one class starts with a larger value, so small corpora reach a
    better fit. The result is still one weight per feature (``coef = w * r``), which the guard applies as is."""

    def __init__(self, c: float) -> None:
        self.c = c

    def fit(self, x: csr_matrix, y: np.ndarray) -> NbLogistic:
        present = (x != 0).astype(np.float64)
        p = NB_ALPHA + np.asarray(present[y == 1].sum(axis=0)).ravel()
        q = NB_ALPHA + np.asarray(present[y == 0].sum(axis=0)).ravel()
        self.r = np.log((p / p.sum()) / (q / q.sum()))
        self.clf = LogisticRegression(C=self.c, solver="liblinear", max_iter=2000, class_weight="balanced")
        self.clf.fit(x @ diags(self.r), y)
        self.coef = self.clf.coef_[0] * self.r
        self.intercept = float(self.clf.intercept_[0])
        return self

    def predict_proba(self, x: csr_matrix) -> np.ndarray:
        return self.clf.predict_proba(x @ diags(self.r))


def fit(x: csr_matrix, y: np.ndarray, c: float) -> NbLogistic:
    return NbLogistic(c).fit(x, y)


def threshold(legit_probabilities: np.ndarray, share: float) -> float:
    """The lowest probability at which at most ``share`` of the legitimate texts reach it."""
    ordered = np.sort(legit_probabilities)[::-1]
    allowed = int(np.floor(share * len(ordered)))
    return float(ordered[allowed] + 1e-6) if allowed < len(ordered) else 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="report only; do not write the model file")
    args = parser.parse_args()

    rows = load(DEV_DIR)
    if not rows:
        print(f"no corpus in {DEV_DIR}", file=sys.stderr)
        return 1
    vectors = [feature_values(r["text"]) for r in rows]
    y = np.array([1 if r["label"] == "marketing" else 0 for r in rows])
    folds = np.array([r["batch"] for r in rows])
    batches = sorted(set(folds))
    print(
        f"corpus: {len(rows)} texts, {int(y.sum())} marketing, {int(len(y) - y.sum())} legitimate, "
        f"{len(batches)} writing batches"
    )

    best = None
    for c in C_GRID:
        oof = np.zeros(len(rows))
        for k in batches:
            train, test = folds != k, folds == k
            vocabulary = build_vocabulary([v for v, t in zip(vectors, train, strict=True) if t])
            clf = fit(matrix([v for v, t in zip(vectors, train, strict=True) if t], vocabulary), y[train], c)
            oof[test] = clf.predict_proba(matrix([v for v, t in zip(vectors, test, strict=True) if t], vocabulary))[
                :, 1
            ]
        block = threshold(oof[y == 0], MAX_LEGIT_BLOCKED)
        recall = float((oof[y == 1] >= block).mean())
        legit_pass = float((oof[y == 0] < block).mean())
        print(f"C={c:<5} cross-validated: marketing blocked {recall:.1%}, legitimate passed {legit_pass:.1%}")
        if best is None or recall > best[1]:
            best = (c, recall, oof)
    c, _, oof = best
    block = threshold(oof[y == 0], MAX_LEGIT_BLOCKED)
    review = min(threshold(oof[y == 0], MAX_LEGIT_REVIEWED), block)
    print(f"chosen C={c}; thresholds block={block:.4f} review={review:.4f}")

    per_language: dict[str, list[int]] = {}
    for r, p, label in zip(rows, oof, y, strict=True):
        stats = per_language.setdefault(r["language"], [0, 0, 0, 0])
        if label:
            stats[0] += 1
            stats[1] += int(p >= block)
        else:
            stats[2] += 1
            stats[3] += int(p < block)
    for language, (m, mb, legit, lp) in sorted(per_language.items()):
        print(f"  {language:6} marketing blocked {mb}/{m}   legitimate passed {lp}/{legit}")

    vocabulary = build_vocabulary(vectors)
    clf = fit(matrix(vectors, vocabulary), y, c)
    names = sorted(vocabulary, key=vocabulary.get)
    weights = {name: round(float(w), 4) for name, w in zip(names, clf.coef, strict=True) if abs(w) >= MIN_WEIGHT}
    corpus_hash = hashlib.sha256("\n".join(sorted(r["text"] for r in rows)).encode("utf-8")).hexdigest()[:12]
    model = {
        "version": f"guard-{corpus_hash}-c{c:g}",
        "bias": round(clf.intercept, 4),
        "thresholds": {"block": round(block, 4), "review": round(review, 4)},
        "meta": {
            "corpus_texts": len(rows),
            "corpus_marketing": int(y.sum()),
            "regularisation_c": c,
            "features": len(weights),
            "cross_validated_marketing_blocked": round(float((oof[y == 1] >= block).mean()), 4),
            "cross_validated_legitimate_passed": round(float((oof[y == 0] < block).mean()), 4),
        },
        "weights": dict(sorted(weights.items())),
    }
    print(f"model {model['version']}: {len(weights)} weights")
    if not args.dry_run:
        MODEL_FILE.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        print(f"wrote {MODEL_FILE.relative_to(ROOT)} ({MODEL_FILE.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
