"""Growth benchmark (issue 14): how search, answers, start-up, ingest, memory and disk grow from 1k to 1M papers.

    .venv/bin/python bench/growth.py                                  # 1k and 10k (what `make bench` runs)
    .venv/bin/python bench/growth.py --sizes 100000,1000000           # the large sizes (hours; outside CI)

Per size N: N synthetic papers in the arXiv snapshot format (bench/make_arxiv_snapshot.py: real corpus sentences
recombined, seeded) are ingested into a fresh data dir under --workdir, then measured:
- ingest: wall, papers/s, the parse / chunk / embed / store split of the ingest report, peak RSS;
- a warm serving process (`Engine`, extractive answers, real MiniLM for the questions): time to load the index
  and answer a first search, then search and `ask` p50/p95 over QUESTIONS (author, period, venue, category,
  topical, id and off-topic questions), and its peak RSS;
- start to first answer: a fresh `rag ask "..."` subprocess, wall (median of runs), and its peak RSS;
- disk of the data dir.
Vectors: sizes above --real-upto (default 0: every size) are ingested with DERIVED vectors (bench/derived_embed.py:
perturbed means of the real MiniLM vectors of each text's source sentences) instead of running MiniLM over
every text, which on this 2-core machine runs ~25 texts/s (a 1k-paper ingest embeds ~10k texts: ~7 min). Sizes
up to --real-upto are ingested by `rag ingest --corpus FILE` with real MiniLM. Every output says which.
Questions are always embedded by the real MiniLM. Peak RSS is each process's own (wait4 rusage); a process over
--max-rss-gb is stopped and reported as such.

Prints a table, writes <out>/growth.json (figures of earlier runs of other sizes are kept), growth.md and
growth.png (latency and memory against corpus size, log x). Asserts nothing: targets are printed met / missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Large or many-copy corpora: the paper model (embedding.paper_model, ~0.3 s a paper) is for small ones.
NO_PAPER_MODEL = {"paper_model": "none"}
BENCH = ROOT / "bench"
for p in (str(ROOT), str(BENCH)):
    if p not in sys.path:
        sys.path.insert(0, p)

ONE_SHOT_QUESTION = "which papers study length generalization?"
# ~30 varied questions: topical, lay, author, period, venue, category, id, follow-up-free chat, off-topic.
QUESTIONS = [
    "which papers study length generalization, and what do they find?",
    "is there work on making big models cheaper to run on a phone?",
    "what did Omid Saremi co-author?",
    "papers by Eran Malach on transformers",
    "which papers did Noam Razin write in 2019?",
    "what was published in March 2021?",
    "papers from 2017 about reinforcement learning",
    "recent work on diffusion models since 2023",
    "which NeurIPS 2020 papers are about optimization?",
    "ICML 2018 papers on generalization",
    "cs.CV papers about image segmentation",
    "stat.ML papers on calibration",
    "how can reinforcement learning improve reasoning in language models?",
    "methods for detecting hallucinations in large language models",
    "what is classifier-free guidance?",
    "how do normalizing flows compare with diffusion models?",
    "which papers are about causal discovery in astrophysics?",
    "what is known about scaling laws for neural networks?",
    "approaches to private federated learning",
    "how are graph neural networks used for molecules?",
    "what benchmarks measure code generation?",
    "explain in-context learning in transformers",
    "what is the arXiv id of the paper on classifier-free guidance as a predictor-corrector?",
    "tell me about 1503.00042",
    "is there research on robot manipulation from video?",
    "how do you measure representation quality in joint embedding architectures?",
    "which papers use contrastive learning for speech?",
    "what are the limits of gradient descent in deep networks?",
    "what's a good recipe for sourdough bread?",
    "who won the world cup in 2018?",
]
TARGETS = [  # (size, metric key, limit, label)
    (100_000, "search_p95_ms", 50.0, "search p95 ≤ 50 ms at 100k"),
    (1_000_000, "search_p95_ms", 150.0, "search p95 ≤ 150 ms at 1M"),
    (1_000_000, "peak_rss_mb", 6144.0, "peak memory ≤ 6 GB at 1M (ingest and serving)"),
    (1_000_000, "first_answer_s", 10.0, "start to first answer ≤ 10 s at 1M"),
]
DERIVED_NOTE = (
    "DERIVED vectors: chunk, paper and sentence vectors are not computed by MiniLM but derived from real MiniLM "
    "vectors of each text's source sentences (mean + seeded noise, cosine ~0.98); questions use the real MiniLM"
)
MARKER = "growth-bench.json"  # written into a data dir built by this bench (says how its vectors were made)


def env() -> dict[str, str]:
    e = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
         "TOKENIZERS_PARALLELISM": "false", "GRADIO_ANALYTICS_ENABLED": "False"}  # fmt: skip
    e["RAG_LLM__BASE_URL"] = ""  # extractive answers: no LLM endpoint, whatever the caller's environment
    e.pop("RAG_CONFIG", None)
    return e


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 1), "p95": round(pct(values, 0.95), 1), "n": len(values)}


# -- running a measured child process -------------------------------------------------------------------------
def run_measured(cmd: list[str], max_rss_mb: float, timeout_s: float, extra_env: dict[str, str] | None = None
                 ) -> dict[str, Any]:  # fmt: skip
    """Run `cmd` (with `extra_env` on top of env()); wall time, its own peak RSS (wait4 rusage), stdout/stderr.
    Stopped when its RSS passes `max_rss_mb` (sampled every 0.2 s) or after `timeout_s`."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**env(), **(extra_env or {})}, cwd=ROOT, text=True)
        stopped, sampled = None, 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = _rss_mb(proc.pid)
            sampled = max(sampled, rss)
            if rss > max_rss_mb:
                stopped = f"stopped: RSS {rss:.0f} MB passed the {max_rss_mb:.0f} MB limit"
            elif time.perf_counter() - t0 > timeout_s:
                stopped = f"stopped: still running after {timeout_s:.0f} s"
            if stopped:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return {
            "code": proc.returncode,
            "wall_s": wall,
            "peak_rss_mb": max(usage.ru_maxrss / 1024, sampled),
            "stdout": out.read(),
            "stderr": err.read(),
            "stopped": stopped,
        }


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def disk_mb(path: Path) -> float:
    total = 0
    for p in path.rglob("*"):
        try:
            st = p.lstat()
        except OSError:
            continue
        if p.is_file():
            total += st.st_blocks * 512
    return total / 1e6


def last_json(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            data: dict[str, Any] = json.loads(line)
            return data
    return {}


def fail_reason(run: dict[str, Any]) -> str:
    if run["stopped"]:
        return str(run["stopped"])
    lines = (run["stderr"].strip() or run["stdout"].strip()).splitlines()
    return f"exit {run['code']}: " + (lines[-1].strip()[:300] if lines else "no output")


# -- workers (run in their own process, so each peak RSS is that process's alone) ----------------------------
def worker_ingest(data_dir: Path, corpus: Path, vectors_from: list[Path]) -> None:
    """Ingest `corpus` with derived vectors (the same Engine.ingest as `rag ingest`, another embedder)."""
    from derived_embed import DerivedEmbedder, known_vectors
    from make_arxiv_snapshot import pools

    from rag.embed import default_cache_dir, make_embedder
    from rag.engine import Engine
    from rag.settings import load_settings

    settings = load_settings(None, data_dir=data_dir, embedding=NO_PAPER_MODEL)
    real = make_embedder(settings.embedding)
    t0 = time.perf_counter()
    known = known_vectors(real, pools(ROOT / "corpus")[0], vectors_from, default_cache_dir())
    prep_s = time.perf_counter() - t0
    embedder = DerivedEmbedder(real, known)
    report = Engine(settings, embedder=embedder).ingest(corpus, progress=False)
    print(report.stage_line())
    print(report.summary())
    print(json.dumps({"papers": report.papers, "stages": report.stages, "seconds": report.seconds,
                      "texts_derived": embedder.derived, "texts_embedded": embedder.embedded,
                      "known_sentences": len(known), "known_vectors_s": round(prep_s, 1),
                      "chunks": report.chunks_embedded, "sentences": report.sentences_embedded}))  # fmt: skip


def worker_serve(data_dir: Path, rounds: int) -> None:
    """A warm serving process: load, first search, then search and ask over QUESTIONS."""
    t0 = time.perf_counter()
    from rag import Engine, load_settings

    engine = Engine(load_settings(None, data_dir=data_dir, llm={"base_url": None}, embedding=NO_PAPER_MODEL))
    engine.search("warm up")
    load_s = time.perf_counter() - t0
    engine.ask("warm up")
    search_ms, ask_ms, refused, hits = [], [], 0, 0
    for _ in range(rounds):
        for q in QUESTIONS:
            t = time.perf_counter()
            result = engine.search(q)
            search_ms.append((time.perf_counter() - t) * 1000)
            hits += len(result.hits)
            t = time.perf_counter()
            answer = engine.ask(q)
            ask_ms.append((time.perf_counter() - t) * 1000)
            refused += bool(answer.refused)
    # The first pass alone too: its questions meet the files' pages cold (what a process just started sees).
    print(json.dumps({"load_and_first_search_s": round(load_s, 2), "search_ms": summary(search_ms),
                      "search_first_pass_ms": summary(search_ms[: len(QUESTIONS)]),
                      "ask_ms": summary(ask_ms), "refused": refused, "hits": hits,
                      "questions": len(QUESTIONS) * rounds}))  # fmt: skip


# -- one size -------------------------------------------------------------------------------------------------
STAGES = re.compile(r"stages: (.*?); embedded (\d+) chunks \+ (\d+) papers \+ (\d+) sentences")


def make_corpus(n: int, path: Path, seed: int) -> float:
    from make_arxiv_snapshot import records

    t0 = time.perf_counter()
    with path.open("w", encoding="utf-8") as f:
        for rec in records(n, seed):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return time.perf_counter() - t0


def measure_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    py = sys.executable
    derived = n > args.real_upto
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    corpus, data = work / f"snapshot-{n}.jsonl", work / f"data-{n}"
    shutil.rmtree(data, ignore_errors=True)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    res: dict[str, Any] = {"papers": n, "vectors": "derived" if derived else "real MiniLM", "date": now,
                           "commit": git_commit()}  # fmt: skip
    print(f"\n== {n:,} papers ({res['vectors']} vectors)", flush=True)
    gen_s = make_corpus(n, corpus, args.seed)
    res["corpus_mb"] = round(corpus.stat().st_size / 1e6, 1)
    print(f"   snapshot: {res['corpus_mb']} MB in {gen_s:.1f} s", flush=True)
    limit = args.max_rss_gb * 1024
    try:
        if derived:
            sources = [a for d in args.vectors_from for a in ("--vectors-from", str(d))]
            cmd = [py, str(Path(__file__).resolve()), "--worker", "ingest", "--data-dir", str(data),
                   "--corpus", str(corpus), *sources]  # fmt: skip
        else:
            cmd = [py, "-m", "rag.cli", "ingest", "--corpus", str(corpus), "--data-dir", str(data),
                   "--quiet", "--verbose"]  # fmt: skip
        dense_only = n > args.dense_only_above  # chunk vectors in dense/ only (chroma.chunks off): one machine, 1M
        res["chroma_chunks"] = not dense_only
        run = run_measured(cmd, limit, args.timeout, {"RAG_CHROMA__CHUNKS": "false"} if dense_only else {})
        res["ingest_peak_rss_mb"] = round(run["peak_rss_mb"])
        if run["code"] != 0:
            res["ingest_failed"] = fail_reason(run)
            res["ingest_wall_s"] = round(run["wall_s"], 1)
            print(f"   ingest FAILED after {run['wall_s']:.0f} s (peak RSS {run['peak_rss_mb']:.0f} MB): "
                  f"{res['ingest_failed']}", flush=True)  # fmt: skip
            return res
        m = STAGES.search(run["stdout"])
        stages = {k: float(v) for k, v in re.findall(r"(\w+) ([\d.]+) s", m.group(1))} if m else {}
        res |= {"ingest_wall_s": round(run["wall_s"], 1), "ingest_stages_s": stages,
                "ingest_papers_per_s": round(n / run["wall_s"], 1),
                "chunks": int(m.group(2)) if m else None, "sentences": int(m.group(4)) if m else None}  # fmt: skip
        if derived:
            info = last_json(run["stdout"])
            res["texts_derived"], res["texts_embedded_real"] = info.get("texts_derived"), info.get("texts_embedded")
            res["known_vectors_s"] = info.get("known_vectors_s")
            (data / MARKER).write_text(json.dumps({"vectors": "derived", "note": DERIVED_NOTE}) + "\n")
        split = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
        print(f"   ingest: {run['wall_s']:.1f} s wall, {res['ingest_papers_per_s']} papers/s ({split}), "
              f"peak RSS {res['ingest_peak_rss_mb']} MB", flush=True)  # fmt: skip
        res["disk_mb"] = round(disk_mb(data), 1)
        return measure_serving(data, res, args)
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
            corpus.unlink(missing_ok=True)


def measure_serving(data: Path, res: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Warm search / ask latency, start to first answer and their memory, on a built data dir."""
    py, limit = sys.executable, args.max_rss_gb * 1024
    res["search_rounds"] = args.rounds
    cmd = [py, str(Path(__file__).resolve()), "--worker", "serve", "--data-dir", str(data),
           "--rounds", str(args.rounds)]  # fmt: skip
    run = run_measured(cmd, limit, args.timeout)
    res["serve_peak_rss_mb"] = round(run["peak_rss_mb"])
    if run["code"] != 0:
        res["serve_failed"] = fail_reason(run)
        print(f"   serving FAILED: {res['serve_failed']}", flush=True)
    else:
        w = last_json(run["stdout"])
        res |= {"search_ms": w["search_ms"], "ask_ms": w["ask_ms"], "load_s": w["load_and_first_search_s"],
                "search_first_pass_ms": w.get("search_first_pass_ms"),
                "refused": w["refused"], "questions": w["questions"]}  # fmt: skip
        first = w.get("search_first_pass_ms") or {}
        print(f"   warm: load + first search {res['load_s']} s; search p50 {w['search_ms']['p50']} ms "
              f"p95 {w['search_ms']['p95']} ms (first pass {first.get('p50')} / {first.get('p95')} ms); "
              f"ask p50 {w['ask_ms']['p50']} ms p95 {w['ask_ms']['p95']} ms; "
              f"peak RSS {res['serve_peak_rss_mb']} MB", flush=True)  # fmt: skip

    walls, rss = [], []
    for _ in range(args.oneshot_runs):
        cmd = [py, "-m", "rag.cli", "ask", "--data-dir", str(data), ONE_SHOT_QUESTION]
        run = run_measured(cmd, limit, args.timeout)
        if run["code"] != 0:
            res["first_answer_failed"] = fail_reason(run)
            print(f"   `rag ask` FAILED: {res['first_answer_failed']}", flush=True)
            break
        walls.append(run["wall_s"])
        rss.append(run["peak_rss_mb"])
    if walls:
        res["first_answer_s"] = round(statistics.median(walls), 2)
        res["first_answer_runs_s"] = [round(w, 2) for w in walls]
        res["first_answer_rss_mb"] = round(max(rss))
        print(f"   start to first answer (`rag ask`): {res['first_answer_s']} s (median of {len(walls)}), "
              f"peak RSS {res['first_answer_rss_mb']} MB", flush=True)  # fmt: skip
    processes = ("ingest_peak_rss_mb", "serve_peak_rss_mb", "first_answer_rss_mb")
    res["peak_rss_mb"] = max(res.get(k, 0) for k in processes)
    return res


def remeasure_serving(n: int, previous: dict[str, Any] | None, args: argparse.Namespace) -> dict[str, Any]:
    """--serve-only: the serving figures again on a data dir kept by an earlier --keep run, whose ingest figures
    (and commit) stay as they were; the serving commit is recorded beside them."""
    data = args.workdir / f"data-{n}"
    if previous is None or not (data / "current.json").is_file():
        raise SystemExit(f"--serve-only {n}: needs {data} from an earlier --keep run and its entry in growth.json")
    res = {k: v for k, v in previous.items() if not k.startswith(("serve_", "first_answer")) and
           k not in ("search_ms", "ask_ms", "load_s", "refused", "questions")}  # fmt: skip
    res |= {"serving_commit": git_commit(), "serving_date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    print(f"\n== {n:,} papers: serving re-measured on {data} (ingest figures from {res.get('commit')})", flush=True)
    return measure_serving(data, res, args)


# -- output ---------------------------------------------------------------------------------------------------
def git_commit() -> str:
    proc = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return proc.stdout.strip() or "unknown"


def human(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)


def verdicts(sizes: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    out = []
    for n, key, limit, label in TARGETS:
        r = sizes.get(str(n))
        value = (r or {}).get("search_ms", {}).get("p95") if key == "search_p95_ms" else (r or {}).get(key)
        failed = r and any(k in r for k in ("ingest_failed", "serve_failed", "first_answer_failed"))
        if value is None:
            out.append((label, "not measured" if not r else f"not measured ({'failed' if failed else 'missing'})"))
        else:
            unit = "s" if key.endswith("_s") else "MB" if key.endswith("_mb") else "ms"
            out.append((label, f"{'met' if value <= limit else 'MISSED'} ({value} {unit})"))
    return out


EXTRAPOLATED = [  # (label, picker) of the figures extrapolated to 10M papers
    ("search p95 (ms)", lambda r: r.get("search_ms", {}).get("p95")),
    ("ask p95 (ms)", lambda r: r.get("ask_ms", {}).get("p95")),
    ("start to first answer (s)", lambda r: r.get("first_answer_s")),
    ("ingest wall (s)", lambda r: r.get("ingest_wall_s")),
    ("peak RSS ingest (MB)", lambda r: r.get("ingest_peak_rss_mb")),
    ("peak RSS serving (MB)", lambda r: r.get("serve_peak_rss_mb")),
    ("disk (MB)", lambda r: r.get("disk_mb")),
]


def extrapolate(sizes: dict[str, dict[str, Any]], target: int = 10_000_000) -> list[tuple[str, str]]:
    """Each figure at `target` papers by a power law through its two largest measured sizes (slope = how it
    grows: 1.0 is linear). A rough forecast, not a measurement."""
    out = []
    for label, pick in EXTRAPOLATED:
        pts = sorted((int(n), v) for n, r in sizes.items() if (v := pick(r)) and int(n) < target)
        if len(pts) < 2:
            continue
        (n1, v1), (n2, v2) = pts[-2], pts[-1]
        slope = math.log(v2 / v1) / math.log(n2 / n1)
        out.append((label, f"{v2 * (target / n2) ** slope:,.0f} (slope {slope:.2f} from {human(n1)}→{human(n2)})"))
    return out


def table(results: dict[str, Any]) -> str:
    sizes = dict(sorted(results["sizes"].items(), key=lambda kv: int(kv[0])))

    def get(r: dict[str, Any], *keys: str) -> str:
        v: Any = r
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        return "—" if v is None else str(v)

    rows = [
        ("vectors", lambda r: r.get("vectors", "—")),
        ("chunk vectors in", lambda r: "Chroma + dense/" if r.get("chroma_chunks", True) else "dense/ only"),
        ("search p50 / p95 (ms)", lambda r: f"{get(r, 'search_ms', 'p50')} / {get(r, 'search_ms', 'p95')}"),
        ("extractive ask p50 / p95 (ms)", lambda r: f"{get(r, 'ask_ms', 'p50')} / {get(r, 'ask_ms', 'p95')}"),
        ("warm process: load + first search (s)", lambda r: get(r, "load_s")),
        ("start to first answer, `rag ask` (s)", lambda r: get(r, "first_answer_s")),
        ("ingest wall (s)", lambda r: get(r, "ingest_wall_s")),
        ("ingest papers/s", lambda r: get(r, "ingest_papers_per_s")),
        ("ingest split parse / chunk / embed / store (s)",
         lambda r: " / ".join(get(r, "ingest_stages_s", s) for s in ("parse", "chunk", "embed", "store"))),
        ("peak RSS ingest (MB)", lambda r: get(r, "ingest_peak_rss_mb")),
        ("peak RSS serving process (MB)", lambda r: get(r, "serve_peak_rss_mb")),
        ("peak RSS `rag ask` (MB)", lambda r: get(r, "first_answer_rss_mb")),
        ("disk of the data dir (MB)", lambda r: get(r, "disk_mb")),
        ("chunks / sentences stored", lambda r: f"{get(r, 'chunks')} / {get(r, 'sentences')}"),
        ("failures", lambda r: "; ".join(r[k] for k in ("ingest_failed", "serve_failed", "first_answer_failed")
                                          if k in r) or "none"),
    ]  # fmt: skip
    head = "| papers | " + " | ".join(human(int(n)) for n in sizes) + " |\n|---" + "|---" * len(sizes) + "|"
    body = "\n".join(f"| {label} | " + " | ".join(f(r) for r in sizes.values()) + " |" for label, f in rows)
    targets = "\n".join(f"- {label}: **{v}**" for label, v in verdicts(sizes))
    if forecast := extrapolate(sizes):
        targets += "\n\nExtrapolated to 10M papers (power law through the two largest sizes; a forecast):\n"
        targets += "\n".join(f"- {label}: {v}" for label, v in forecast)
    notes = "\n".join(f"- {human(int(n))}: measured {r.get('date')} at {r.get('commit')}"
                      + (f"; serving re-measured {r['serving_date']} at {r.get('serving_commit')}"
                         if r.get("serving_date") else "")
                      + (f"; search and ask timed over {r['search_rounds']} passes of the questions"
                         if r.get("search_rounds", 1) > 1 else "") for n, r in sizes.items())  # fmt: skip
    derived = any(r.get("vectors") == "derived" for r in sizes.values())
    return (f"{head}\n{body}\n\nTargets:\n{targets}\n\n" + (f"Note: {DERIVED_NOTE}.\n\n" if derived else "")
            + f"{notes}\n")  # fmt: skip


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results["sizes"].items(), key=lambda kv: int(kv[0]))
    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 4.2))

    def series(ax: Any, label: str, pick: Any, style: str) -> None:
        pts = [(int(n), v) for n, r in sizes if (v := pick(r)) is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=label)

    series(lat, "search p50", lambda r: r.get("search_ms", {}).get("p50"), "o-")
    series(lat, "search p95", lambda r: r.get("search_ms", {}).get("p95"), "o--")
    series(lat, "ask p95", lambda r: r.get("ask_ms", {}).get("p95"), "s--")
    series(lat, "start to first answer", lambda r: r["first_answer_s"] * 1000 if "first_answer_s" in r else None, "^-")
    lat.scatter([1e5, 1e6], [50, 150], marker="_", s=400, color="C1", label="target: search p95")
    lat.scatter([1e6], [10_000], marker="_", s=400, color="C3", label="target: first answer")
    lat.set(xscale="log", yscale="log", xlabel="papers", ylabel="ms", title="latency")
    series(mem, "ingest peak RSS", lambda r: r.get("ingest_peak_rss_mb"), "o-")
    series(mem, "serving peak RSS", lambda r: r.get("serve_peak_rss_mb"), "s-")
    series(mem, "`rag ask` peak RSS", lambda r: r.get("first_answer_rss_mb"), "^-")
    series(mem, "disk", lambda r: r.get("disk_mb"), "x--")
    mem.scatter([1e6], [6144], marker="_", s=400, color="k", label="target: peak memory")
    mem.set(xscale="log", yscale="log", xlabel="papers", ylabel="MB", title="memory and disk")
    for ax in (lat, mem):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    derived = any(r.get("vectors") == "derived" for _, r in sizes)
    fig.suptitle("paperchat growth" + (" (derived vectors: see growth.md)" if derived else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000", help="comma-separated paper counts")
    ap.add_argument("--real-upto", type=int, default=0,
                    help="sizes up to this are embedded by real MiniLM via `rag ingest`; larger ones get derived "
                    "vectors")  # fmt: skip
    ap.add_argument("--rounds", type=int, default=1, help="passes over the questions in the warm process")
    ap.add_argument("--oneshot-runs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/growth"), help="snapshots and data dirs go here")
    ap.add_argument("--keep", action="store_true", help="keep each snapshot and data dir (deleted by default)")
    ap.add_argument("--serve-only", action="store_true",
                    help="re-measure serving only, on the data dirs an earlier --keep run left in --workdir")
    ap.add_argument("--dense-only-above", type=int, default=300_000,
                    help="sizes above this ingest with chroma.chunks off: chunk vectors in dense/ only, Chroma holds "
                         "the paper vectors (its in-process index of ~3M chunk vectors would not fit 6 GB)")
    ap.add_argument("--out", type=Path, default=BENCH / "results")
    ap.add_argument("--max-rss-gb", type=float, default=12.0, help="stop a process whose RSS passes this")
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="stop a process running longer (s)")
    ap.add_argument("--vectors-from", type=Path, action="append", default=[],
                    help="built index of the real corpus whose sentence vectors derived vectors start from (default "
                    ".data; missing ones are embedded once and cached)")  # fmt: skip
    ap.add_argument("--worker", choices=["ingest", "serve"], help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker == "ingest":
        worker_ingest(args.data_dir, args.corpus, args.vectors_from or [ROOT / ".data"])
        return
    if args.worker == "serve":
        worker_serve(args.data_dir, args.rounds)
        return

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "growth.json"
    try:
        results: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        results = {}
    results.setdefault("sizes", {})
    results |= {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}",
                "derived_vectors_note": DERIVED_NOTE, "questions": QUESTIONS,
                "one_shot_question": ONE_SHOT_QUESTION}  # fmt: skip
    started = time.perf_counter()
    for n in sizes:
        previous = results["sizes"].get(str(n))
        results["sizes"][str(n)] = remeasure_serving(n, previous, args) if args.serve_only else measure_size(n, args)
        results["verdicts"] = dict(verdicts(results["sizes"]))
        path.write_text(json.dumps(results, indent=2) + "\n")  # after every size: a run cut short keeps the rest
    md = table(results)
    (args.out / "growth.md").write_text(md)
    plot(results, args.out / "growth.png")
    print(f"\n{md}\n({time.perf_counter() - started:.0f} s) wrote {path}, {args.out / 'growth.md'}, "
          f"{args.out / 'growth.png'}")  # fmt: skip


if __name__ == "__main__":
    main()
