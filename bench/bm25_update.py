"""Benchmark: the BM25 stage of a re-ingest, the full build against the update from saved counts (issue 14).

    nice -n 5 .venv/bin/python bench/bm25_update.py 100000 --changed 0.01 --workdir /tmp/bm25bench

Writes a synthetic snapshot of N papers (bench/make_arxiv_snapshot.py) and its catalog, and the BM25 index of it
with its counts (the previous generation's). Then a second catalog, a share of its papers changed (a sentence
with a new word added to the abstract), and times, each in a fresh process (its own peak RSS) and each as
`Ingest._keywords` runs it, saved included: `full`, every paper read from the catalog and tokenized; `update`,
from the previous index's counts, only the changed papers read and tokenized. Each runs `--rounds` times,
alternating. Also times what the update adds to the parse stage (every paper's text key, next to the digest the
ingest already takes), and checks both indexes are the same, term by term. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from rag.catalog import Catalog, CatalogReport, iter_catalog  # noqa: E402
from rag.catalog_store import write_catalog  # noqa: E402
from rag.keywords import KeywordIndex, SearchTexts, Tokenizer, paper_search_text, text_key  # noqa: E402


def prepare(n: int, changed: float, work: Path) -> None:
    from make_arxiv_snapshot import records

    work.mkdir(parents=True, exist_ok=True)
    snap = work / f"snap{n}.jsonl"
    if not snap.is_file():
        with snap.open("w", encoding="utf-8") as f:
            for rec in records(n, 0):
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    for name in ("old.sqlite", "new.sqlite", "prev", "full", "update", "prev.counts", "full.counts", "update.counts"):
        p = work / name
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    write_catalog(work / "old.sqlite", iter_catalog(snap, CatalogReport()))
    old = Catalog.open(work / "old.sqlite")
    picked = set(random.Random(1).sample(range(len(old)), round(changed * len(old))))
    write_catalog(
        work / "new.sqlite",
        (
            p.model_copy(update={"abstract": f"{p.abstract} We also report Zqbench{i} results."}) if i in picked else p
            for i, p in enumerate(old.iter_papers())
        ),
    )
    texts = (paper_search_text(p) for p in old.iter_papers())
    KeywordIndex.build(texts, Tokenizer(), counts=work / "prev.counts").save(work / "prev", "prev")


def phase(name: str, work: Path) -> dict[str, Any]:
    """One timed BM25 stage, as the ingest runs it (in this fresh process)."""
    catalog = Catalog.open(work / "new.sqlite")
    out: dict[str, Any] = {"phase": name}
    if name == "update":
        search = SearchTexts()  # the ingest takes these while parsing; not part of the BM25 stage
        for p in catalog.iter_papers():
            search.add(p)
        keys = search.keys()
    t0 = time.perf_counter()
    if name == "full":
        texts = (paper_search_text(p) for p in catalog.iter_papers())
        KeywordIndex.build(texts, Tokenizer(), counts=work / "full.counts").save(work / "full", "new")
        out["tokenized"] = len(catalog)
    else:

        def texts_at(ords: list[int]) -> list[str]:
            return [paper_search_text(p) for p in catalog.at(ords)]

        index, out["tokenized"] = KeywordIndex.update(
            work / "prev", keys, texts_at, Tokenizer(), counts=work / "update.counts"
        )
        index.save(work / "update", "new")
    out["seconds"] = round(time.perf_counter() - t0, 2)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def same(work: Path) -> bool:
    """Both saved indexes hold the same terms, each with the same documents and float32 scores."""
    a, b = KeywordIndex.open(work / "full"), KeywordIndex.open(work / "update")
    sa, sb = a._bm25.scores, b._bm25.scores  # type: ignore[union-attr]
    ta, tb = _all_terms(work / "full"), _all_terms(work / "update")
    if a.n_docs != b.n_docs or ta.keys() != tb.keys():
        return False
    for term, i in ta.items():
        j = tb[term]
        if i + 1 >= len(sa["indptr"]) or j + 1 >= len(sb["indptr"]):  # bm25s's empty token
            continue
        x, y = slice(sa["indptr"][i], sa["indptr"][i + 1]), slice(sb["indptr"][j], sb["indptr"][j + 1])
        if sa["indices"][x].tolist() != sb["indices"][y].tolist() or sa["data"][x].tobytes() != sb["data"][y].tobytes():
            return False
    return True


def _all_terms(folder: Path) -> dict[str, int]:
    import sqlite3

    db = sqlite3.connect(folder / "terms.sqlite")
    try:
        return dict(db.execute("SELECT term, id FROM terms").fetchall())
    finally:
        db.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("papers", type=int, nargs="?", default=100_000)
    ap.add_argument("--changed", type=float, default=0.01, help="share of the papers changed")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bm25bench"))
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--phase", choices=["full", "update"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.workdir)))
        return
    t0 = time.perf_counter()
    prepare(args.papers, args.changed, args.workdir)
    result: dict[str, Any] = {
        "papers": args.papers,
        "changed": args.changed,
        "prepare_s": round(time.perf_counter() - t0),
    }
    texts = [paper_search_text(p) for p in Catalog.open(args.workdir / "new.sqlite").iter_papers()]
    t0 = time.perf_counter()
    for t in texts:
        text_key(t)
    result["text_keys_s"] = round(time.perf_counter() - t0, 2)
    runs = []
    for _ in range(args.rounds):
        for name in ("full", "update"):
            for leftover in (name, f"{name}.counts"):
                shutil.rmtree(args.workdir / leftover, ignore_errors=True)
            cmd = [sys.executable, __file__, "--phase", name, "--workdir", str(args.workdir)]
            runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
    result["runs"] = runs
    result["identical"] = same(args.workdir)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
