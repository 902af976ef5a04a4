"""Benchmark: the embedder runtimes, warm search/ask latency and the one-shot `rag ask` on the real corpus.

    .venv/bin/python bench/latency.py [--data-dir DIR] [--rounds 3] [--oneshot-runs 3] [--json OUT]

Prints figures (and writes them as JSON with --json); asserts nothing: targets live here, not in timed unit
tests. Sections:
- embedder: per runtime (onnx, torch), in a fresh process: import + load time, one-query latency p50/p95,
  batch throughput and the process's peak RSS;
- warm: search and extractive ask p50/p95 in one process, and the fusion step from `timings_ms.fusion`;
- one-shot: `rag ask "<question>"` as a user runs it from a shell: wall time and peak RSS (median / max of runs).
The data dir is ingested first when it holds no index.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from questions import QUESTIONS  # bench/questions.py (scripts run as `python bench/x.py`)

ROOT = Path(__file__).resolve().parent.parent
ONE_SHOT_QUESTION = "which papers study length generalization?"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "p95": round(pct(values, 0.95), 1), "n": len(values)}


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip


# -- embedder runtimes, each in its own process (peak RSS is per process) --------------------------------
def probe_embedder(runtime: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    from rag.embed import make_embedder
    from rag.settings import EmbeddingSettings

    t1 = time.perf_counter()
    embedder = make_embedder(EmbeddingSettings(runtime=runtime))  # type: ignore[arg-type]
    t2 = time.perf_counter()
    embedder.embed_query("warm up")
    one = []
    for _ in range(5):
        for q in QUESTIONS:
            t = time.perf_counter()
            embedder.embed_query(q)
            one.append((time.perf_counter() - t) * 1000)
    from rag.catalog import build_catalog

    papers, _ = build_catalog(ROOT / "corpus")
    texts = [p.abstract for p in papers[:128]]
    t = time.perf_counter()
    embedder.embed(texts)
    batch_s = time.perf_counter() - t
    return {
        "runtime": type(embedder).__name__,
        "import_s": round(t1 - t0, 2),
        "load_s": round(t2 - t1, 2),
        "query_ms": summary(one),
        "abstracts_per_s": round(len(texts) / batch_s, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def embedder_figures() -> dict[str, Any]:
    out = {}
    for runtime in ("onnx", "torch"):
        proc = subprocess.run([sys.executable, __file__, "--probe-embedder", runtime], capture_output=True,
                              text=True, env=env(), cwd=ROOT, timeout=600)  # fmt: skip
        if proc.returncode:
            out[runtime] = {"error": proc.stderr.strip().splitlines()[-1:]}
            continue
        out[runtime] = json.loads(proc.stdout.strip().splitlines()[-1])
        f = out[runtime]
        print(f"embedder {runtime:>5} ({f['runtime']}): import {f['import_s']:.2f} s, load {f['load_s']:.2f} s, "
              f"query p50 {f['query_ms']['p50']} ms p95 {f['query_ms']['p95']} ms, "
              f"{f['abstracts_per_s']} abstracts/s, peak RSS {f['peak_rss_mb']} MB")  # fmt: skip
    return out


# -- one-shot `rag ask` ------------------------------------------------------------------------------------
# Runs the command as a child and reports that child's peak RSS alone (RUSAGE_CHILDREN of a fresh wrapper).
MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
wall = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"code": code, "wall_s": wall, "peak_rss_mb": rss}))
"""


def measure_command(cmd: list[str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", MEASURE, *cmd], capture_output=True, text=True, env=env(), cwd=ROOT)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def one_shot_figures(data_dir: Path, runs: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "rag.cli", "ask", ONE_SHOT_QUESTION, "--data-dir", str(data_dir)]
    measured = [measure_command(cmd) for _ in range(runs)]
    failed = [m for m in measured if m["code"]]
    walls = [m["wall_s"] for m in measured]
    out = {
        "command": f'rag ask "{ONE_SHOT_QUESTION}"',
        "wall_s": round(statistics.median(walls), 2),
        "wall_s_runs": [round(w, 2) for w in walls],
        "peak_rss_mb": round(max(m["peak_rss_mb"] for m in measured)),
        "failed": len(failed),
    }
    print(f"one-shot `{out['command']}`: wall {out['wall_s']} s (median of {runs}: {out['wall_s_runs']}), "
          f"peak RSS {out['peak_rss_mb']} MB" + (f", {len(failed)} runs FAILED" if failed else ""))  # fmt: skip
    return out


# -- warm process ------------------------------------------------------------------------------------------
def warm_figures(data_dir: Path, rounds: int) -> dict[str, Any]:
    from rag import Engine, UserError, load_settings

    engine = Engine(load_settings(data_dir=data_dir, llm={"base_url": None}))
    try:
        engine.search("warm up")
    except UserError:
        t0 = time.perf_counter()
        report = engine.ingest(progress=False)
        print(f"ingest (no index in {data_dir}): {time.perf_counter() - t0:.1f} s — {report.summary()}")
        engine.search("warm up")
    engine.ask("warm up")
    search_ms, ask_ms, fusion_ms = [], [], []
    for _ in range(rounds):
        for q in QUESTIONS:
            t = time.perf_counter()
            engine.search(q)
            search_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            answer = engine.ask(q)
            ask_ms.append((time.perf_counter() - t) * 1000)
            if "fusion" in answer.timings_ms:
                fusion_ms.append(answer.timings_ms["fusion"])
    out = {"search_ms": summary(search_ms), "ask_ms": summary(ask_ms)}
    if fusion_ms:
        out["fusion_ms"] = summary(fusion_ms)
    for name, key in (("search", "search_ms"), ("ask (extractive)", "ask_ms"), ("fusion step", "fusion_ms")):
        if key in out:
            f = out[key]
            print(f"{name:>17}: p50 {f['p50']:7.1f} ms  p95 {f['p95']:7.1f} ms  n={f['n']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT / ".data", help="index to measure (default: .data)")
    ap.add_argument("--rounds", type=int, default=3, help="passes over the questions in the warm process")
    ap.add_argument("--oneshot-runs", type=int, default=3)
    ap.add_argument("--skip", action="append", default=[], choices=["embedder", "warm", "oneshot"])
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--probe-embedder", choices=["onnx", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe_embedder:
        print(json.dumps(probe_embedder(args.probe_embedder)))
        return
    figures: dict[str, Any] = {"data_dir": str(args.data_dir)}

    def save() -> None:  # after every section, so a run cut short keeps what it measured
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(figures, indent=2) + "\n")

    # The warm section first: it ingests a data dir that has no index yet.
    if "warm" not in args.skip:
        figures["warm"] = warm_figures(args.data_dir, args.rounds)
        save()
    if "oneshot" not in args.skip:
        figures["one_shot"] = one_shot_figures(args.data_dir, args.oneshot_runs)
        save()
    if "embedder" not in args.skip:
        figures["embedder"] = embedder_figures()
        save()


if __name__ == "__main__":
    main()
