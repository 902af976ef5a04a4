"""Benchmark: a refusal threshold swept over the DEV split, in extractive mode (choose it here; the held-out
split is only reported by `rag eval`).

    .venv/bin/python bench/refusal_threshold.py [--field refusal_threshold|absent_threshold]
        [--golden eval/dev.jsonl] [--from 0.24 --to 0.42 --step 0.02]

Each question is retrieved once; the answer step runs once per threshold (retrieval does not depend on it).
Prints, per threshold, the unanswerable questions answered and the answerable ones refused: false answers
and false refusals count alike, so the shipped `answer.refusal_threshold` should sit where their sum is lowest.
Needs a built index (`rag ingest`). Asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rag import Engine, load_settings
from rag.answer import Answerer
from rag.evaluate import load_golden
from rag.models import Answer, Message


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--golden", type=Path, default=Path("eval/dev.jsonl"))
    ap.add_argument("--data-dir", help="the index to use (default: the settings' data dir)")
    ap.add_argument("--from", dest="start", type=float, default=0.24)
    ap.add_argument("--to", dest="stop", type=float, default=0.42)
    ap.add_argument("--step", type=float, default=0.02)
    ap.add_argument("--field", default="refusal_threshold", choices=["refusal_threshold", "absent_threshold"])
    args = ap.parse_args()
    settings = load_settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    engine = Engine(settings)
    rows = load_golden(args.golden)
    searched = []
    for row in rows:
        history = [Message.model_validate(m) for m in row["history"]]
        searched.append((row, history, engine.search(row["question"], history=history)))
    unanswerable = sum(1 for r in rows if r["refuse"])
    shipped = getattr(settings.answer, args.field)
    print(f"{len(rows)} questions ({unanswerable} unanswerable); shipped {args.field} {shipped}")
    print("threshold  unanswerable-answered  answerable-refused  errors")
    t = args.start
    while t <= args.stop + 1e-9:
        tuned = settings.model_copy(
            update={"answer": settings.answer.model_copy(update={args.field: round(t, 4)})}
        )
        answerer = Answerer(tuned, engine.catalog, embed=engine.embedder.embed)  # no LLM: extractive refusals
        answered_wrongly = refused_wrongly = 0
        for row, history, found in searched:
            final = [p for p in answerer.answer_stream(found, history) if isinstance(p, Answer)][-1]
            if row["refuse"] and not final.refused:
                answered_wrongly += 1
            elif not row["refuse"] and final.refused:
                refused_wrongly += 1
        print(f"{t:9.2f}  {answered_wrongly:21d}  {refused_wrongly:18d}  {answered_wrongly + refused_wrongly:6d}")
        t += args.step


if __name__ == "__main__":
    main()
