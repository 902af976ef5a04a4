"""Benchmark: app replicas on a `chroma run` server and a read-only data dir.

    .venv/bin/python bench/replicas.py [--corpus corpus] [--replicas 2] [--questions 20]

Starts a real `chroma run` on a free port, ingests the corpus into a temp data dir in server mode (the writer),
makes the data dir read-only, starts N `rag ui` processes (RAG_CHROMA__MODE=server), then measures per replica:
process start to healthy (/api/health 200), the first `POST /api/ask` (loads the vectors from the server), and
p50/p95 of the next questions (extractive answers, no LLM); then re-ingests with one page removed and measures
how long after the `current.json` switch every replica serves the new generation. Writes
bench/results/replicas.json. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Large or many-copy corpora: the paper model (embedding.paper_model, ~0.3 s a paper) is for small ones.
NO_PAPER_MODEL = {"paper_model": "none"}
sys.path.insert(0, str(ROOT))

from rag.embed import cache_dirs, make_embedder  # noqa: E402
from rag.engine import Engine  # noqa: E402
from rag.settings import EmbeddingSettings, load_settings  # noqa: E402
from tests.chroma_proc import app_env, app_replicas, chroma_run  # noqa: E402
from tests.test_replicas import set_writable  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "replicas.json"
QUESTIONS = [
    "which papers study length generalization in transformers?",
    "what is classifier-free guidance?",
    "normalizing flows as generative models",
    "how are language models calibrated?",
    "diffusion models composition",
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(ROOT / "corpus"))
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--questions", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    shared = tmp / "shared"
    embedder = make_embedder(EmbeddingSettings())
    onnx = next(d for d in cache_dirs(EmbeddingSettings()) if any(d.glob("minilm-*.onnx")))
    out: dict[str, object] = {"corpus": args.corpus, "replicas": args.replicas}
    try:
        with chroma_run(tmp / "chroma") as port:
            chroma = {"mode": "server", "host": "127.0.0.1", "port": port}
            t0 = time.perf_counter()
            settings = load_settings(
                None, data_dir=shared, corpus_dir=args.corpus, chroma=chroma, embedding=NO_PAPER_MODEL
            )
            report = Engine(settings, embedder=embedder).ingest(progress=False)
            out["ingest_s"] = round(time.perf_counter() - t0, 1)
            out["papers"] = report.papers
            set_writable(shared, False)
            env = app_env(shared, port, RAG_EMBEDDING__CACHE_DIR=str(onnx))
            (tmp / "work").mkdir()
            t0 = time.perf_counter()
            with app_replicas(env, args.replicas, tmp / "work") as replicas:
                out["start_to_healthy_s"] = round(time.perf_counter() - t0, 1)
                urls = [u for u, _ in replicas]
                per: list[dict[str, float]] = []
                for url in urls:
                    t = time.perf_counter()
                    httpx.post(f"{url}/api/ask", json={"question": QUESTIONS[0]}, timeout=120).raise_for_status()
                    first = (time.perf_counter() - t) * 1000
                    lat = []
                    for i in range(args.questions):
                        t = time.perf_counter()
                        q = QUESTIONS[i % len(QUESTIONS)]
                        httpx.post(f"{url}/api/ask", json={"question": q}, timeout=60).raise_for_status()
                        lat.append((time.perf_counter() - t) * 1000)
                    per.append(
                        {"first_ask_ms": round(first, 1), "ask_p50_ms": pct(lat, 0.5), "ask_p95_ms": pct(lat, 0.95),
                         "ask_mean_ms": round(statistics.mean(lat), 1)}
                    )  # fmt: skip
                out["per_replica"] = per
                # A new generation: the corpus without its first manifest page.
                manifest = json.loads((Path(args.corpus) / "manifest.json").read_text())
                smaller = tmp / "corpus2"
                smaller.mkdir()
                pages = manifest["pages"][1:]
                for p in pages:
                    shutil.copy(Path(args.corpus) / p["file"], smaller / p["file"])
                (smaller / "manifest.json").write_text(json.dumps({"pages": pages}))
                set_writable(shared, True)
                settings2 = load_settings(
                    None, data_dir=shared, corpus_dir=smaller, chroma=chroma, embedding=NO_PAPER_MODEL
                )
                r2 = Engine(settings2, embedder=embedder).ingest(progress=False)
                switched = time.perf_counter()
                set_writable(shared, False)
                lags = []
                for url in urls:
                    while httpx.get(f"{url}/api/health", timeout=10).json().get("papers") != r2.papers:
                        time.sleep(0.05)
                    lags.append(round(time.perf_counter() - switched, 2))
                out["reload_after_switch_s"] = lags
                out["reload_check_s"] = env["RAG_INGEST__RELOAD_CHECK_S"]
    finally:
        if shared.exists():
            set_writable(shared, True)
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=1))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
