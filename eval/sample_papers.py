"""Print a seeded random sample of papers from the catalog, to write held-out questions from.

The held-out questions (eval/heldout.jsonl) are written from these printouts before anyone looks at
what the system answers; the seed is fixed so the sample can be reproduced and audited.

    python eval/sample_papers.py                  # 60 papers, seed 2026, from corpus/
    python eval/sample_papers.py --n 10 --offset 60   # the next 10 of the same shuffled order
    python eval/sample_papers.py --metadata       # only papers with authors, a date, an arXiv id or a comment
"""

from __future__ import annotations

import argparse
import random
import textwrap
from pathlib import Path

from rag.catalog import build_catalog
from rag.models import Paper

SEED = 2026


def shuffled(papers: list[Paper], seed: int = SEED) -> list[Paper]:
    """The papers in one seeded random order (sorted by id first, so the order does not depend on parsing)."""
    ordered = sorted(papers, key=lambda p: p.paper_id)
    random.Random(seed).shuffle(ordered)
    return ordered


def has_metadata(p: Paper) -> bool:
    return bool(p.authors or p.date or p.arxiv_id or p.comments or p.affiliations)


def describe(p: Paper) -> str:
    authors = ", ".join(p.authors) + (" et al." if p.authors_truncated else "")
    lines = [
        f"== {p.paper_id}  {p.title}",
        f"   authors: {authors or '-'}   affiliations: {', '.join(p.affiliations) or '-'}",
        f"   date: {p.date or '-'}   arxiv: {p.arxiv_id or '-'}   category: {p.category or '-'}",
        f"   comments: {' | '.join(p.comments) or '-'}",
        textwrap.indent(textwrap.fill(p.abstract, 110), "   "),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default="corpus", help="corpus folder with manifest.json")
    parser.add_argument("--n", type=int, default=60, help="how many papers to print")
    parser.add_argument("--offset", type=int, default=0, help="skip this many of the shuffled order")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--metadata", action="store_true", help="only papers with catalog metadata")
    args = parser.parse_args()

    papers, _ = build_catalog(Path(args.corpus))
    order = shuffled(papers, args.seed)
    if args.metadata:
        order = [p for p in order if has_metadata(p)]
    for i, p in enumerate(order[args.offset : args.offset + args.n], start=args.offset):
        print(f"[{i}] {describe(p)}\n")


if __name__ == "__main__":
    main()
