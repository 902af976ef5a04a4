"""Every figure of issue 13's performance table in one run (`make bench`), in under ten minutes.

    .venv/bin/python bench/run_all.py [--data-dir DIR] [--out bench/results]

Runs bench/latency.py (embedder runtimes, warm search / ask / fusion, one-shot `rag ask` wall + peak RSS),
bench/load.py (10 clients x 5 POST /api/ask against a server it starts) and bench/ingest.py when present
(ingest figures; the "index" helper's benchmark). Writes <out>/latest.json and <out>/latest.md (the Markdown
table README's performance section is made from). A step that fails is recorded as failed; the rest still run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

# Issue 13's targets, shown next to each figure.
TARGETS = {
    "search": "p95 ≤ 25 ms",
    "ask": "p95 ≤ 60 ms",
    "fusion": "≤ 3 ms",
    "one_shot_wall": "≤ 4 s",
    "one_shot_rss": "≤ 500 MB",
    "ingest": "≤ 1.15 × embed-only",
    "load": "p95 ≤ 1.5 s, ≥ 15 requests/s",
}


def step(name: str, cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run one benchmark script; its stdout is kept, its JSON file is read by the caller."""
    print(f"== {name}: {' '.join(cmd[1:])}", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false", "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    t0 = time.perf_counter()
    # Its own process group, so a timeout also stops what the step started (load.py's server).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
                            start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
        ok = proc.returncode == 0
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        ok, err = False, f"timed out after {timeout:.0f} s"
    print(out, end="", flush=True)
    if not ok:
        print(f"   {name} FAILED: {err.strip()[-600:]}", flush=True)
    return {"ok": ok, "seconds": round(time.perf_counter() - t0, 1), "stdout": out, "error": None if ok else err[-600:]}


def read_json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {}


def fmt(value: Any, unit: str) -> str:
    return "—" if value is None else f"{value} {unit}"


def table(results: dict[str, Any]) -> str:
    lat = results.get("latency", {})
    warm, one, emb = lat.get("warm", {}), lat.get("one_shot", {}), lat.get("embedder", {})
    load, ingest = results.get("load", {}), results.get("ingest", {})

    def p(d: dict[str, Any], key: str) -> str:
        f = d.get(key)
        return f"{f['p50']} / {f['p95']} ms" if f else "—"

    data = results["data_dir"]
    rows = [
        ("`search` p50 / p95", p(warm, "search_ms"), TARGETS["search"], f"`python bench/latency.py --data-dir {data}`"),
        ("extractive `ask` p50 / p95", p(warm, "ask_ms"), TARGETS["ask"], "same"),
        ("fusion step alone p50 / p95", p(warm, "fusion_ms"), TARGETS["fusion"], "`timings_ms.fusion` of each ask"),
        ("one-shot `rag ask \"…\"`, wall", fmt(one.get("wall_s"), "s"), TARGETS["one_shot_wall"],
         f"median of {len(one.get('wall_s_runs', []))} runs of `{one.get('command', 'rag ask')}`"),
        ("peak memory of that one-shot", fmt(one.get("peak_rss_mb"), "MB"), TARGETS["one_shot_rss"],
         "max RSS of the `rag` process (getrusage)"),
    ]  # fmt: skip
    for runtime in ("onnx", "torch"):
        e = emb.get(runtime)
        if e and "load_s" in e:
            rows.append((f"MiniLM on {runtime}: load / query p50 / peak RSS",
                         f"{e['load_s']} s / {e['query_ms']['p50']} ms / {e['peak_rss_mb']} MB", "—",
                         f"fresh process, `bench/latency.py` ({e['abstracts_per_s']} abstracts/s)"))  # fmt: skip
    if ingest:
        how = "`python bench/ingest.py --papers 150`" if ingest.get("sliced") else "`python bench/ingest.py`"
        rows.append(("cold ingest vs embed-only", ingest.get("summary", "see bench/ingest.py output"),
                     TARGETS["ingest"], how))  # fmt: skip
    else:
        rows.append(("cold ingest vs embed-only", "— (bench/ingest.py not present)", TARGETS["ingest"], "—"))
    for n, g in sorted(results.get("growth", {}).get("sizes", {}).items(), key=lambda kv: int(kv[0])):
        if "search_ms" in g:
            rows.append((f"growth: {int(n):,} papers ({g['vectors']} vectors) search / ask p95, first answer",
                         f"{g['search_ms']['p95']} / {g['ask_ms']['p95']} ms, {g.get('first_answer_s', '—')} s",
                         "see bench/results/growth.md", f"`python bench/growth.py --sizes {n}`"))  # fmt: skip
    if load.get("p95_s") is not None:
        rows.append((f"{load['clients']} clients × {load['requests_each']} `POST /api/ask`",
                     f"p50 {load['p50_s']} s, p95 {load['p95_s']} s, max {load['max_s']} s, "
                     f"{load['requests_per_s']} requests/s, {load['errors']} errors of {load['requests']}",
                     TARGETS["load"], "`python bench/load.py --clients 10 --requests 5`"))  # fmt: skip
    head = "| what | measured | target | how |\n| --- | --- | --- | --- |"
    body = "\n".join(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows)
    return f"{head}\n{body}\n"


def git_commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return proc.stdout.strip() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT / ".data", help="a built index (ingested when missing)")
    ap.add_argument("--out", type=Path, default=BENCH / "results")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--oneshot-runs", type=int, default=3)
    ap.add_argument("--growth-sizes", default="1000", help="corpus sizes of bench/growth.py (e.g. 1000,10000)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    parts = Path(tempfile.mkdtemp(prefix="rag-bench-"))  # each step's JSON, merged into latest.json
    py = sys.executable
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start",
        "commit": git_commit(),
        "data_dir": str(args.data_dir),
        "steps": {},
    }
    steps: list[tuple[str, list[str], Path, float]] = [
        ("latency", [py, str(BENCH / "latency.py"), "--data-dir", str(args.data_dir), "--rounds", str(args.rounds),
                     "--oneshot-runs", str(args.oneshot_runs), "--json", str(parts / "latency.json")],
         parts / "latency.json", 900),
        ("load", [py, str(BENCH / "load.py"), "--data-dir", str(args.data_dir), "--clients", "10", "--requests", "5",
                  "--json", str(parts / "load.json")], parts / "load.json", 600),
    ]  # fmt: skip
    if (BENCH / "ingest.py").is_file():
        steps.append(("ingest", [py, str(BENCH / "ingest.py"), "--sizes", "32,64", "--sweep-texts", "600",
                                  "--papers", "150", "--out", str(parts / "ingest.json")],
                      parts / "ingest.json", 900))  # fmt: skip
    # Growth at a small size (issue 14): 1k takes ~1 min, 10k another 2-4 min here, so 10k is opt-in; 100k and 1M:
    # `python bench/growth.py --sizes 100000,1000000`. growth.json keeps the other sizes' last figures.
    steps.append(("growth", [py, str(BENCH / "growth.py"), "--sizes", args.growth_sizes, "--oneshot-runs", "1",
                             "--out", str(args.out)], args.out / "growth.json", 600))  # fmt: skip
    for name, cmd, out, timeout in steps:
        if name != "growth":  # growth.json keeps the large sizes' figures of earlier runs
            out.unlink(missing_ok=True)
        run = step(name, cmd, timeout)
        results["steps"][name] = {k: v for k, v in run.items() if k != "stdout"}
        results[name] = read_json(out)
        if name == "ingest" and not results[name] and run["ok"]:
            results[name] = {"summary": " ".join(run["stdout"].split())[:300]}
    results["seconds"] = round(time.perf_counter() - started, 1)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    md = (f"Measured {results['date']} at {results['commit']} ({results['machine']}); "
          f"`make bench` took {results['seconds']:.0f} s.\n\n{table(results)}")  # fmt: skip
    (args.out / "latest.md").write_text(md)
    print(f"\n{md}\nwrote {args.out / 'latest.json'} and {args.out / 'latest.md'}")
    if not all(s["ok"] for s in results["steps"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
