"""Synthetic papers in the arXiv metadata snapshot format, made of real corpus text recombined (seeded).

    .venv/bin/python bench/make_arxiv_snapshot.py 100000 /tmp/snap100k.jsonl [--seed 0]

Each synthetic abstract is 4-9 sentences drawn from different real abstracts of corpus/, each title is words of
real titles, authors are real author names (2% of name slots) or real first and last names recombined with a
middle initial (~10k names, so an author's papers stay a few hundred at 1M), so BM25 and embeddings see
realistic text; ids, dates, categories, comments, journal-refs and DOIs follow the snapshot's shapes.
Importable: `records(n, seed)` yields the dicts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.catalog import build_catalog  # noqa: E402
from rag.text import sentences  # noqa: E402

CATEGORIES = ["cs.LG", "cs.CL", "cs.CV", "cs.AI", "stat.ML", "cs.IR", "cs.RO", "astro-ph.GA", "q-fin.TR", "math.OC"]
VENUES = ["NeurIPS {y}", "ICML {y}", "ICLR {y}", "Phys. Rev. D 76, 013009 ({y})", "JMLR 24 ({y})", "ACL {y}"]
COMMENTS = ["{p} pages, {f} figures", "accepted to {v}", "{p} pages; code available", "Technical report"]


def pools(corpus: Path) -> tuple[list[str], list[str], list[str]]:
    papers, _ = build_catalog(corpus)
    sents = [s for p in papers for s in sentences(p.abstract) if 40 <= len(s) <= 400]
    title_words = [w for p in papers if not p.title_derived for w in p.title.split()]
    authors = sorted({a for p in papers for a in p.authors})
    return sents, title_words, authors


def people(authors: list[str]) -> list[str]:
    """Real first and last names recombined with a middle initial: a realistic spread of authors at 1M papers."""
    firsts = sorted({a.split()[0] for a in authors if " " in a})
    lasts = sorted({a.rsplit(" ", 1)[1] for a in authors if " " in a})
    return [f"{f} {chr(65 + k)}. {last}" for f in firsts for k in range(26) for last in lasts]


def records(n: int, seed: int = 0, corpus: Path = ROOT / "corpus") -> Iterator[dict[str, object]]:
    rng = random.Random(seed)
    sents, title_words, authors = pools(corpus)
    others = people(authors)
    start = date(2015, 1, 1)
    per_month: dict[str, int] = {}
    for _ in range(n):
        day = start + timedelta(days=rng.randrange(0, 3650))
        ym = f"{day.year % 100:02d}{day.month:02d}"
        per_month[ym] = per_month.get(ym, 0) + 1
        arxiv_id = f"{ym}.{per_month[ym]:05d}"
        names = list(dict.fromkeys(rng.choice(authors if rng.random() < 0.02 else others)
                                   for _ in range(rng.randint(1, 6))))  # fmt: skip
        cats = rng.sample(CATEGORIES, rng.randint(1, 3))
        year = day.year
        venue = rng.choice(VENUES).format(y=year) if rng.random() < 0.3 else None
        comment = rng.choice(COMMENTS).format(p=rng.randint(4, 40), f=rng.randint(1, 12), v=venue or "ICML")
        created = day.strftime("%a, %d %b %Y 10:00:00 GMT")
        yield {
            "id": arxiv_id,
            "submitter": names[0],
            "authors": ", ".join(names),
            "title": " ".join(rng.sample(title_words, rng.randint(5, 12))),
            "comments": comment if rng.random() < 0.6 else None,
            "journal-ref": venue,
            "doi": f"10.1000/synthetic.{arxiv_id}" if venue else None,
            "report-no": None,
            "categories": " ".join(cats),
            "license": None,
            "abstract": "  " + " ".join(rng.sample(sents, rng.randint(4, 9))) + "\n",
            "versions": [{"version": "v1", "created": created}],
            "update_date": (day + timedelta(days=rng.randrange(0, 400))).isoformat(),
            "authors_parsed": [[*reversed(a.rsplit(" ", 1)), ""] if " " in a else [a, "", ""] for a in names],
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="number of papers")
    ap.add_argument("out", type=Path, help="JSONL file to write")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with args.out.open("w", encoding="utf-8") as f:
        for rec in records(args.n, args.seed):
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    size = args.out.stat().st_size
    print(f"{args.n} papers -> {args.out} ({size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
