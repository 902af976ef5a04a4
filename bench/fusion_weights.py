"""Benchmark: retrieval (and answer) settings swept over the DEV split (choose them here; the held-out splits are
only reported by `rag eval`). Retrieval metrics per kind, one shared index and embedder.

    .venv/bin/python bench/fusion_weights.py --field paper_weight --values 0,0.25,0.5,0.75,1
    .venv/bin/python bench/fusion_weights.py --set sentence_weight=0,0.5 --set prf_weight=0,0.3   # the grid
    .venv/bin/python bench/fusion_weights.py --set answer.relevance_margin=0.05,0.1 --ask          # + citations

A field is `section.name` (default section: retrieval). `--ask` also runs the extractive answer and reports
gold_cited (a gold paper among the citations) and citation precision, as `rag eval` computes them.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

from rag import Engine, load_settings
from rag.evaluate import RETRIEVAL_METRICS, citation_scores, load_golden, retrieval_metrics
from rag.models import Message


def parse_grid(sets: list[str], field: str | None, values: str | None) -> list[tuple[str, list[float]]]:
    grid = []
    if field:
        grid.append((field, [float(v) for v in (values or "").split(",") if v]))
    for item in sets:
        name, _, vals = item.partition("=")
        grid.append((name.strip(), [float(v) for v in vals.split(",") if v]))
    return [(name if "." in name else f"retrieval.{name}", vals) for name, vals in grid]


def apply(settings: Any, name: str, value: float) -> None:
    section, attr = name.split(".", 1)
    target = getattr(settings, section)
    current = getattr(target, attr)
    setattr(target, attr, int(value) if isinstance(current, int) and not isinstance(current, bool) else value)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", type=Path, default=Path("eval/dev.jsonl"))
    ap.add_argument("--data-dir", help="the index to use (default: the settings' data dir)")
    ap.add_argument("--field", help="one field to sweep (with --values)")
    ap.add_argument("--values")
    ap.add_argument("--set", action="append", default=[], help="field=v1,v2,... (repeat for a grid)")
    ap.add_argument("--ask", action="store_true", help="also answer (extractive) and report citation metrics")
    args = ap.parse_args()
    if "heldout" in args.golden.name:
        ap.error("the held-out splits are for reporting only: choose settings on eval/dev.jsonl")
    settings = load_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    grid = parse_grid(args.set, args.field, args.values) or [("retrieval.paper_weight", [0.75])]
    base = Engine(settings)
    rows = [r for r in load_golden(args.golden) if not r["refuse"]]
    kinds = sorted({r["kind"] for r in rows})
    names = [name for name, _ in grid]
    print(f"{len(rows)} answerable questions of {args.golden}")
    extra = ["cited", "cite_P"] if args.ask else []
    print("  ".join(f"{n.split('.')[-1][:14]:>14}" for n in names) + "  "
          + "  ".join(f"{m[:8]:>8}" for m in [*RETRIEVAL_METRICS, *extra]) + "  "
          + "  ".join(f"{k[:8]:>8}" for k in kinds))  # fmt: skip
    for combo in itertools.product(*(vals for _, vals in grid)):
        tuned = settings.model_copy(deep=True)
        for name, value in zip(names, combo, strict=True):
            apply(tuned, name, value)
        engine = Engine(tuned, embedder=base.embedder)
        engine._index = base.index  # same vectors, no second Chroma client
        per = []
        for row in rows:
            history = [Message.model_validate(m) for m in row["history"]]
            gold = set(row["gold"])
            ranked = [h.paper_id for h in engine.search(row["question"], k=10, history=history).hits]
            m = retrieval_metrics(ranked, gold)
            if args.ask:
                ans = engine.ask(row["question"], history=history)
                cited = [c.paper_id for c in ans.citations]
                m["cited"] = float(bool(gold & set(cited)))
                m["cite_P"] = citation_scores(cited, gold)[0]
            per.append((row["kind"], m))
        overall = [sum(m[name] for _, m in per) / len(per) for name in [*RETRIEVAL_METRICS, *extra]]
        by_kind = [
            sum(m["hit_at_5"] for k, m in per if k == kind) / sum(1 for k, _ in per if k == kind) for kind in kinds
        ]
        print("  ".join(f"{v:14.3g}" for v in combo) + "  " + "  ".join(f"{v:8.3f}" for v in overall) + "  "
              + "  ".join(f"{v:8.3f}" for v in by_kind), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
