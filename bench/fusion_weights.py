"""Benchmark: a retrieval setting swept over the DEV split (choose it here; the held-out split is only
reported by `rag eval`). Retrieval metrics per kind, search only, one shared index and embedder.

    .venv/bin/python bench/fusion_weights.py --field paper_weight --values 0,0.25,0.5,0.75,1
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rag import Engine, load_settings
from rag.evaluate import RETRIEVAL_METRICS, load_golden, retrieval_metrics
from rag.models import Message


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", type=Path, default=Path("eval/dev.jsonl"))
    ap.add_argument("--data-dir", help="the index to use (default: the settings' data dir)")
    ap.add_argument("--field", default="paper_weight", help="a field of [retrieval]")
    ap.add_argument("--values", default="0,0.25,0.5,0.75,1")
    args = ap.parse_args()
    settings = load_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    base = Engine(settings)
    rows = [r for r in load_golden(args.golden) if not r["refuse"]]
    kinds = sorted({r["kind"] for r in rows})
    print(f"{len(rows)} answerable questions of {args.golden}; shipped {args.field} = "
          f"{getattr(settings.retrieval, args.field)}")  # fmt: skip
    print("value  " + "  ".join(f"{m:>12}" for m in RETRIEVAL_METRICS) + "  " + "  ".join(f"{k[:8]:>8}" for k in kinds))
    for value in [float(v) for v in args.values.split(",")]:
        tuned = settings.model_copy(deep=True)
        setattr(tuned.retrieval, args.field, value)
        engine = Engine(tuned, embedder=base.embedder)
        engine._index = base.index  # same vectors, no second Chroma client
        per = []
        for row in rows:
            history = [Message.model_validate(m) for m in row["history"]]
            ranked = [h.paper_id for h in engine.search(row["question"], k=10, history=history).hits]
            per.append((row["kind"], retrieval_metrics(ranked, set(row["gold"]))))
        overall = [sum(m[name] for _, m in per) / len(per) for name in RETRIEVAL_METRICS]
        by_kind = [
            sum(m["hit_at_5"] for k, m in per if k == kind) / sum(1 for k, _ in per if k == kind) for kind in kinds
        ]
        print(f"{value:5.2f}  " + "  ".join(f"{v:12.3f}" for v in overall) + "  "
              + "  ".join(f"{v:8.3f}" for v in by_kind))  # fmt: skip


if __name__ == "__main__":
    main()
