"""Benchmark: cold ingest vs embedding the same texts alone, and the embedding batch-size sweep.

    .venv/bin/python bench/ingest.py [--corpus corpus] [--papers N] [--sizes 16,32,64,128] [--sweep-texts 1500]

1. Batch sweep: embeds a length-stratified sample of the texts an ingest embeds (chunks, paper texts,
   sentences), sorted by length, at each batch size; prints texts/s.
2. Cold ingest (fresh temp data dir, model already loaded) at the configured batch size, with its
   parse / chunk / embed / store split, then the same texts embedded alone (sorted, same batches).
   Target: ingest total <= 1.15 x embed-only.
`--papers N` runs both on the first N papers of the corpus (written as a JSONL corpus in a temp folder): the
ratio is the same measurement on fewer texts, which is how `make bench` keeps under ten minutes.
Writes bench/results/ingest.json. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rag.catalog import build_catalog
from rag.embed import make_embedder
from rag.engine import Engine
from rag.index import Index, Ingest
from rag.settings import load_settings

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.json"


def embed_sorted(embedder: object, texts: list[str], batch: int) -> float:
    """Seconds to embed `texts` sorted by length in batches of `batch` (what an ingest does)."""
    ordered = sorted(texts, key=len)
    if hasattr(embedder, "batch_size"):  # the embedder batches inside too: make both agree
        embedder.batch_size = batch
    t0 = time.perf_counter()
    for i in range(0, len(ordered), batch):
        embedder.embed(ordered[i : i + batch])  # type: ignore[attr-defined]
    return time.perf_counter() - t0


def slice_corpus(corpus: Path, n: int) -> Path:
    """The first n papers of a corpus as a one-file JSONL corpus in a temp folder."""
    papers, _ = build_catalog(corpus)
    folder = Path(tempfile.mkdtemp(prefix="rag-bench-slice-"))
    rows = [{"title": p.title, "abstract": p.abstract, "authors": p.authors, "id": p.arxiv_id} for p in papers[:n]]
    (folder / "papers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", help="corpus folder (default: settings.corpus_dir)")
    ap.add_argument("--sizes", default="16,32,64,128", help="batch sizes to sweep ('' to skip the sweep)")
    ap.add_argument("--papers", type=int, default=0, help="ingest only the first N papers of the corpus (0 = all)")
    ap.add_argument("--sweep-texts", type=int, default=1500, help="texts per sweep point (0 = all)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="rag-bench-ingest-"))
    # MiniLM alone: the ratio below compares ingest with embedding the same texts, and the paper model's extra
    # pass (embedding.paper_model, ~0.3 s a paper) is not one of them.
    overrides = {"data_dir": data_dir, "embedding": {"paper_model": "none"}}
    overrides |= {"corpus_dir": args.corpus} if args.corpus else {}
    settings = load_settings(None, **overrides)
    if args.papers:
        settings = load_settings(None, **overrides, corpus_dir=slice_corpus(Path(settings.corpus_dir), args.papers))
    t0 = time.perf_counter()
    embedder = make_embedder(settings.embedding)
    load_s = time.perf_counter() - t0
    print(f"embedder {embedder.name} loaded in {load_s:.1f} s")

    papers, _ = build_catalog(Path(settings.corpus_dir))
    _, _, texts = Ingest(Index(settings, embedder), Path(settings.corpus_dir), progress=False, rebuild=False).texts(
        papers
    )
    print(f"{len(papers)} papers -> {len(texts)} texts to embed (chunks + papers + sentences)")
    embed_sorted(embedder, texts[:64], settings.embedding.batch_size)  # warm-up

    sweep: dict[str, float] = {}
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if sizes:
        by_len = sorted(texts, key=len)
        n = args.sweep_texts or len(by_len)
        sample = by_len[:: max(1, len(by_len) // n)][:n]  # every length class, in proportion
        for b in sizes:
            secs = embed_sorted(embedder, sample, b)
            sweep[str(b)] = round(len(sample) / secs, 1)
            print(f"batch {b:>4}: {sweep[str(b)]:7.1f} texts/s ({len(sample)} texts, {secs:.1f} s)")
        print(f"best batch size here: {max(sweep, key=lambda k: sweep[k])}")

    batch = settings.embedding.batch_size
    if hasattr(embedder, "batch_size"):
        embedder.batch_size = batch
    t0 = time.perf_counter()
    report = Engine(settings, embedder=embedder).ingest(progress=False)
    ingest_s = time.perf_counter() - t0
    embed_only_s = embed_sorted(embedder, texts, batch)
    ratio = ingest_s / embed_only_s
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report.stages.items())
    print(f"cold ingest at batch {batch}: {ingest_s:.1f} s ({stages})")
    print(f"embedding the same {len(texts)} texts alone: {embed_only_s:.1f} s")
    print(f"ingest / embed-only: {ratio:.2f}x (target <= 1.15x)")

    out = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "embedder": embedder.name,
        "embedder_load_s": round(load_s, 2),
        "papers": report.papers,
        "sliced": bool(args.papers),
        "texts": len(texts),
        "chunks": report.chunks_embedded,
        "sentences": report.sentences_embedded,
        "batch_size": batch,
        "batch_sweep_texts_per_s": sweep,
        "ingest_s": round(ingest_s, 2),
        "stages_s": report.stages,
        "embed_only_s": round(embed_only_s, 2),
        "ratio": round(ratio, 3),
        "target_ratio": 1.15,
        "summary": f"{ingest_s:.1f} s vs {embed_only_s:.1f} s embedding the same {len(texts)} texts: {ratio:.2f}x",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
