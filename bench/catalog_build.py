"""Benchmark: time and peak memory of building the catalog from a big arXiv-snapshot JSONL.

    .venv/bin/python bench/make_arxiv_snapshot.py 100000 /tmp/snap100k.jsonl
    .venv/bin/python bench/catalog_build.py /tmp/snap100k.jsonl [/tmp/snap10k.jsonl ...]

Two figures per file, each in a fresh process so peak RSS is its own: `parse` streams every record (what
reading costs, independent of the file size), `catalog` is the full `build_catalog` (parse, keep the records,
merge, de-duplicate). Prints a table and writes bench/results/catalog_build.json. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "catalog_build.json"


def measure(path: Path, phase: str) -> dict[str, float]:
    """Run in a child process: one phase on one file."""
    sys.path.insert(0, str(ROOT))
    from rag.catalog import build_catalog
    from rag.corpus import discover, read

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if phase == "parse":
        records = problems = 0
        for item in read(discover(path), 1_000_000, []):
            records += not hasattr(item, "message")
            problems += hasattr(item, "message")
        papers = records
    else:
        cat, report = build_catalog(path)
        papers, records, problems = len(cat), report.records, len(report.problems)
    seconds = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime  # robust on a shared machine, where wall time includes waiting
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "records": records, "papers": papers,
            "problems": problems, "peak_rss_mb": round(peak), "rss_after_imports_mb": round(base)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--child", nargs=2, metavar=("FILE", "PHASE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1])))
        return
    rows = []
    for f in args.files:
        lines = sum(1 for _ in f.open("rb"))
        for phase in ("parse", "catalog"):
            out = subprocess.run([sys.executable, __file__, "--child", str(f), phase], capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr)
            row = {"file": f.name, "lines": lines, "mb": round(f.stat().st_size / 1e6, 1), "phase": phase}
            rows.append(row | json.loads(out.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{r['file']:>22} {r['lines']:>8} lines {r['mb']:>7} MB  {phase:<8} {r['seconds']:>7} s "
                  f"(cpu {r['cpu_seconds']:>7} s) {r['lines'] / r['seconds']:>9.0f} lines/s  "
                  f"peak RSS {r['peak_rss_mb']:>5} MB "
                  f"(imports {r['rss_after_imports_mb']} MB)  papers {r['papers']}", flush=True)  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rows": rows}, indent=1))
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    main()
