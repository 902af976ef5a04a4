"""Benchmark: which papers a question in everyday words keeps for its answer (`Answerer.relevant_hits`, lay=True),
swept over `answer.lay_score_margin`, beside the rule it replaced (the first N ranked papers, `cite_top` N).

    .venv/bin/python bench/lay_citations.py [--golden eval/dev.jsonl] [--ids g0001-g2493]
        [--margins 0,0.08,0.12,0.16,0.2,0.25] [--tops 1,2,3,4,5]

Each answerable question is searched once; only those searched as lay (`SearchResult.lay`) count. Prints, per
rule, the share whose gold paper is kept and the papers kept per question: a better rule keeps the gold paper more
often for as many papers. `--ids` takes an id range of the golden file (held-out 2's first 2493 questions are the
design data this margin was chosen on; dev has 25 lay questions). Writes bench/results/lay_citations.json.
Needs a built index (`rag ingest`). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from rag import Engine, load_settings
from rag.answer import Answerer
from rag.evaluate import load_golden
from rag.models import Hit, Message


def in_range(qid: str, ids: str | None) -> bool:
    if not ids:
        return True
    lo, _, hi = ids.partition("-")
    number = int(re.sub(r"\D", "", qid) or 0)
    return int(re.sub(r"\D", "", lo)) <= number <= int(re.sub(r"\D", "", hi or lo))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", type=Path, default=Path("eval/dev.jsonl"))
    ap.add_argument("--data-dir", help="the index to use (default: the settings' data dir)")
    ap.add_argument("--ids", help="an id range of the golden file, e.g. g0001-g2493")
    ap.add_argument("--margins", default="0,0.04,0.08,0.12,0.16,0.2,0.25")
    ap.add_argument("--tops", default="1,2,3,4,5")
    ap.add_argument("--out", type=Path, default=Path("bench/results/lay_citations.json"))
    args = ap.parse_args()
    settings = load_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    engine = Engine(settings)
    lay: list[tuple[set[str], list[Hit]]] = []
    for row in load_golden(args.golden):
        if row["refuse"] or not row["gold"] or not in_range(row["id"], args.ids):
            continue
        history = [Message.model_validate(m) for m in row["history"]]
        found = engine.search(row["question"], history=history)
        if found.lay and found.hits:
            lay.append((set(row["gold"]), found.hits))

    def measure(rule: str, answer: dict[str, float]) -> dict[str, float | str]:
        tuned = settings.model_copy(update={"answer": settings.answer.model_copy(update=answer)})
        answerer = Answerer(tuned, engine.catalog)
        kept = [answerer.relevant_hits(hits, lay=True) for _, hits in lay]
        gold = sum(bool(g & {h.paper_id for h in k}) for (g, _), k in zip(lay, kept, strict=True))
        return {"rule": rule, "gold_kept": round(gold / max(1, len(lay)), 4),
                "papers_kept": round(sum(map(len, kept)) / max(1, len(lay)), 2)}  # fmt: skip

    rows = [measure(f"first {n}", {"cite_top": int(n), "lay_score_margin": 0.0}) for n in args.tops.split(",")]
    rows += [measure(f"margin {m}", {"lay_score_margin": float(m)}) for m in args.margins.split(",")]
    print(f"{len(lay)} lay questions of {args.golden} {args.ids or ''}; shipped margin "
          f"{settings.answer.lay_score_margin}")  # fmt: skip
    print("rule          gold kept  papers kept")
    for r in rows:
        print(f"{r['rule']:<12}  {r['gold_kept']:9.4f}  {r['papers_kept']:11.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"golden": str(args.golden), "ids": args.ids, "lay_questions": len(lay),
                                    "rows": rows}, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
