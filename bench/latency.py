"""Benchmark: cold/warm ingest time and warm search/ask latency (p50/p95) on the real corpus.

    .venv/bin/python bench/latency.py [--data-dir DIR] [--rounds 3]

Prints figures; asserts nothing (targets live here, not in timed unit tests).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rag import Engine, load_settings

QUESTIONS = [
    "which papers study length generalization, and what do they find?",
    "is there work on making big models cheaper to run on a phone?",
    "what did Omid Saremi co-author?",
    "what is the arXiv id of the paper on classifier-free guidance as a predictor-corrector?",
    "how can reinforcement learning improve reasoning in language models?",
    "which papers are about causal discovery in astrophysics?",
    "what's a good recipe for sourdough bread?",
    "methods for detecting hallucinations in large language models",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", help="reuse this data dir (default: a fresh temp dir, so ingest is cold)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="rag-bench-"))
    t0 = time.perf_counter()
    engine = Engine(load_settings(data_dir=data_dir))
    report = engine.ingest(progress=False)
    print(
        f"ingest (first in this data dir, model load included): {time.perf_counter() - t0:.1f} s — {report.summary()}"
    )
    t0 = time.perf_counter()
    report = engine.ingest(progress=False)
    print(
        f"ingest (warm, nothing changed): {time.perf_counter() - t0:.2f} s — {report.chunks_embedded} chunks embedded"
    )
    engine.search("warm up")
    search_ms, ask_ms = [], []
    for _ in range(args.rounds):
        for q in QUESTIONS:
            t = time.perf_counter()
            engine.search(q)
            search_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            engine.ask(q)
            ask_ms.append((time.perf_counter() - t) * 1000)
    for name, values in (("search", search_ms), ("ask (extractive)", ask_ms)):
        print(f"{name:>17}: p50 {statistics.median(values):7.1f} ms  p95 {pct(values, 0.95):7.1f} ms  n={len(values)}")


if __name__ == "__main__":
    main()
