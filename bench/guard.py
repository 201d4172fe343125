"""How long the content policy takes per text: median and p99 per language, over the labelled corpora.

    .venv/bin/python -m bench.guard                     # every text in tests/data/guard (dev + validation)
    .venv/bin/python -m bench.guard --repeat 3 FILE...  # other JSONL files, each text timed three times

Each text is judged exactly as the send guard judges it (``assess_text``: the classifier, its reasons and the
text-only link rules), in one process, after one warm-up pass over the corpus. Wall-clock figures from this script
are for reading, never for asserting; the load average is printed beside them because a busy machine inflates them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from whatsapp_gateway.messaging.guard.classifier import model  # noqa: E402
from whatsapp_gateway.messaging.guard.content import assess_text  # noqa: E402
from whatsapp_gateway.messaging.guard.evaluation import load_corpus  # noqa: E402

DEFAULT = [ROOT / "tests" / "data" / "guard" / "dev", ROOT / "tests" / "data" / "guard" / "validation"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="time every text this many times")
    args = parser.parse_args()
    rows = load_corpus(args.files or DEFAULT)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"model {model().version}; {len(rows)} texts, each timed {args.repeat}×")
    for row in rows:  # warm-up: model load, caches
        assess_text(row["text"])
    times: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeat):
        for row in rows:
            start, start_cpu = time.perf_counter(), time.thread_time()
            assess_text(row["text"], row.get("purpose", ""))
            cpu[row.get("language", "?")].append((time.thread_time() - start_cpu) * 1000)
            times[row.get("language", "?")].append((time.perf_counter() - start) * 1000)
    # Wall clock is what a request waits; CPU time is what the text costs, and it does not grow when other processes
    # take the cores away (the machine's load average is printed for that reason).
    print(f"{'language':<10}{'texts':>7}{'median ms':>11}{'p99 ms':>9}{'CPU median ms':>15}{'CPU p99 ms':>12}")
    for language in [*sorted(times), "all"]:
        wall = times[language] if language != "all" else [t for v in times.values() for t in v]
        used = cpu[language] if language != "all" else [t for v in cpu.values() for t in v]
        print(
            f"{language:<10}{len(wall):>7}{statistics.median(wall):>11.3f}{percentile(wall, 0.99):>9.3f}"
            f"{statistics.median(used):>15.3f}{percentile(used, 0.99):>12.3f}"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
