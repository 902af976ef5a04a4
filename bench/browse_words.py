"""Browse word search: the word index (`paper_words`) against the scan it replaces, on one catalog file.

    python bench/browse_words.py /tmp/copy/catalog.sqlite [--add-index] [--repeat 3] [--category cs.LG] [words ...]

`--add-index` adds the index to a catalog written without it (the file is changed: use a copy) and prints its
build time and size. Then, for each query, `catalog.page(Filters(), words, 0, 20)` (and with the category filter,
when given) both ways: best of --repeat
milliseconds, the totals, and whether the first page is the same.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.catalog import Catalog
from rag.catalog_store import write_word_index
from rag.retrieve import Filters

QUERIES = ["diffusion", "length generalization", "diffus", "transformer attention", "model", "in context"]


def add_index(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    size = os.path.getsize(path)
    start = time.perf_counter()
    write_word_index(conn)
    conn.commit()
    took = time.perf_counter() - start
    conn.close()
    print(f"index built in {took:.1f} s, file grew {(os.path.getsize(path) - size) / 1e6:.1f} MB")


def best_ms(cat: Catalog, f: Filters, words: list[str], repeat: int) -> tuple[float, int, list[str]]:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        total, papers = cat.page(f, words, 0, 20)
        best = min(best, time.perf_counter() - start)
    return best * 1000, total, [p.paper_id for p in papers]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("catalog", type=Path)
    ap.add_argument("--add-index", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--category")
    ap.add_argument("queries", nargs="*", default=QUERIES)
    args = ap.parse_args()
    if args.add_index:
        add_index(args.catalog)
    cat = Catalog.open(args.catalog)
    print(f"{len(cat)} papers, word index: {cat.has('paper_words')}")
    filters = [Filters()] + ([Filters(category=args.category)] if args.category else [])
    for f in filters:
        for q in args.queries:
            words = q.split()
            cat._optional["paper_words"] = False  # today's scan
            scan_ms, scan_total, scan_ids = best_ms(cat, f, words, args.repeat)
            cat._optional.pop("paper_words")  # the index, when the catalog has it
            index_ms, total, ids = best_ms(cat, f, words, args.repeat)
            same = "same page" if ids == scan_ids else "PAGE DIFFERS"
            label = f"{q!r} {f.category or ''}"
            print(f"{label:34} scan {scan_ms:7.1f} ms ({scan_total})  index {index_ms:7.1f} ms ({total})  {same}")


if __name__ == "__main__":
    main()
