"""Fit the paper model's query adapter (rag/adapter.py) on the training questions, and check that it generalizes.

    python eval/train_adapter.py                       # fit on eval/train/*.jsonl, write rag/adapters/, report
    python eval/train_adapter.py --out /tmp/a.npz --penalty 30

It also writes the training questions' vectors beside the adapter (`<adapter>.examples.npz`): the example questions
that vote for their papers on lay questions (rag/examples.py).

The training questions (eval/train/, ids t*) were written for this, from seeded samples of papers
(`sample_papers.py --seed 61001..61008`), by writers who never saw the system's answers; no eval split holds them.

The fit: M starts at the identity; full-batch Adam minimises the cross-entropy of each question's softmax over every
paper's title + abstract cosine (its own paper the target; temperature `--temperature`), plus `--penalty` times the
mean squared distance of M from the identity. The penalty is what makes it learn phrasing rather than these papers.

It then reports the paper channel's hit@5 (the paper model's cosine alone, before and after) on:
- questions about papers no training question was about: M refitted on the training questions of a seeded half of
  the papers, scored on every question (training and eval) about the other half. This is the figure that says
  whether it generalizes beyond this corpus;
- each eval split, by kind, with the shipped M (the eval's questions are never fitted on).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.adapter import QueryAdapter, shipped_path  # noqa: E402
from rag.embed import make_paper_embedder  # noqa: E402
from rag.examples import ExampleQuestions  # noqa: E402
from rag.settings import load_settings  # noqa: E402

EVAL_SPLITS = {"dev": "eval/dev.jsonl", "heldout": "eval/heldout.jsonl", "heldout2": "eval/heldout2.jsonl"}


def questions(path: Path) -> list[dict]:
    """Answerable single-turn questions with a gold paper (a follow-up's vector is of its rewritten question)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("gold") and not r.get("refuse") and not r.get("history")]


def fit(q: np.ndarray, papers: np.ndarray, target: np.ndarray, *, penalty: float, temperature: float, epochs: int,
        lr: float, seed: int) -> np.ndarray:  # fmt: skip
    import torch

    torch.manual_seed(seed)
    x, p, y = torch.tensor(q), torch.tensor(papers), torch.tensor(target)
    eye = torch.eye(q.shape[1])
    m = torch.nn.Parameter(eye.clone())
    opt = torch.optim.Adam([m], lr=lr)
    for _ in range(epochs):
        opt.zero_grad()
        moved = torch.nn.functional.normalize(x @ m, dim=1)
        loss = torch.nn.functional.cross_entropy(moved @ p.T / temperature, y)
        loss = loss + penalty * ((m - eye) ** 2).sum() / q.shape[1]
        loss.backward()
        opt.step()
    return m.detach().numpy().astype(np.float32)


def hit5(q: np.ndarray, papers: np.ndarray, gold: list[set[int]], m: np.ndarray | None) -> float:
    if not len(q):
        return float("nan")
    moved = q if m is None else q @ m
    moved = moved / np.linalg.norm(moved, axis=1, keepdims=True)
    top = np.argsort(-(moved @ papers.T), axis=1)[:, :5]
    return float(np.mean([bool(set(t.tolist()) & g) for t, g in zip(top, gold, strict=True)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", nargs="*", type=Path, default=sorted((ROOT / "eval" / "train").glob("*.jsonl")))
    ap.add_argument("--data-dir", type=Path, default=None, help="the index to read paper vectors from")
    ap.add_argument("--out", type=Path, default=None, help="default: the shipped file in rag/adapters/")
    ap.add_argument("--penalty", type=float, default=100.0)
    ap.add_argument("--temperature", type=float, default=0.05)
    ap.add_argument("--epochs", type=int, default=300)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-half", type=Path, default=None,
                    help="also write the half-fitted adapter (its meta lists the papers it saw no question about), "
                    "to measure the whole pipeline on those papers' eval questions")  # fmt: skip
    args = ap.parse_args()

    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    settings = load_settings(**overrides)
    settings.embedding.paper_query_adapter = "none"  # the plain question vectors are what M is fitted on
    embedder = make_paper_embedder(settings.embedding)
    if embedder is None:
        sys.exit("no paper model: set embedding.paper_model and install its parts (make install)")
    from rag.engine import Engine

    stored = Engine(settings, paper_embedder=embedder).retriever.index.paper_model_vectors()
    if stored is None:
        sys.exit("the index has no paper-model vectors: run `rag ingest` first")
    papers = np.asarray(stored.matrix, dtype=np.float32)
    row = stored.row

    def encode(rows: list[dict]) -> tuple[list[dict], np.ndarray, list[set[int]]]:
        """The rows whose gold paper is indexed, their question vectors and their gold rows."""
        rows = [r for r in rows if any(g in row for g in r["gold"])]
        vecs = np.asarray(embedder.embed([r["question"] for r in rows]), dtype=np.float32)
        return rows, vecs, [{row[g] for g in r["gold"] if g in row} for r in rows]

    def report(label: str, rows: list[dict], q: np.ndarray, gold: list[set[int]], m: np.ndarray,
               only: set[int] | None = None) -> None:  # fmt: skip
        """hit@5 before -> after, by kind; `only`: the questions whose gold papers are all among these rows."""
        by_kind: dict[str, list[int]] = defaultdict(list)
        for i, (r, g) in enumerate(zip(rows, gold, strict=True)):
            if only is None or g <= only:
                by_kind[r.get("kind", "")].append(i)
        for kind, sel in sorted(by_kind.items()):
            picked = [gold[i] for i in sel]
            print(f"  {label:9s} {kind:11s} n={len(sel):4d}  {hit5(q[sel], papers, picked, None):.3f}"
                  f" -> {hit5(q[sel], papers, picked, m):.3f}")  # fmt: skip

    train_rows, tq, tg = encode([r for path in args.train for r in questions(path)])
    if not train_rows:
        sys.exit("no training questions (eval/train/*.jsonl)")
    target = np.array([min(g) for g in tg])
    params = dict(penalty=args.penalty, temperature=args.temperature, epochs=args.epochs, lr=args.lr, seed=args.seed)
    print(f"{len(tq)} training questions about {len({i for g in tg for i in g})} papers; {params}")

    # Generalization: fitted on the questions about half the papers, scored on questions about the other half.
    ids = sorted(stored.ids)
    random.Random(args.seed).shuffle(ids)
    half = {row[pid] for pid in ids[: len(ids) // 2]}
    other = {row[pid] for pid in ids[len(ids) // 2 :]}
    seen = np.array([g <= half for g in tg])
    m_half = fit(tq[seen], papers, target[seen], **params)
    if args.save_half:
        meta_half = {"questions": int(seen.sum()), "unseen_papers": sorted(ids[len(ids) // 2 :]), **params}
        QueryAdapter(m_half, embedder.name, meta_half).save(args.save_half)
    print("\npaper channel hit@5 on questions about papers no training question was about (before -> after):")
    for r in train_rows:
        r["kind"] = "training"
    report("train", train_rows, tq, tg, m_half, other)
    encoded = {name: encode(questions(ROOT / path)) for name, path in EVAL_SPLITS.items()}
    for name, (rows, q, gold) in encoded.items():
        report(name, rows, q, gold, m_half, other)

    m = fit(tq, papers, target, **params)
    out = args.out or shipped_path(embedder.name)
    meta = {"questions": len(tq), "files": [p.name for p in args.train], **params}
    QueryAdapter(m, embedder.name, meta).save(out)
    # The same questions, as the plain paper model embeds them, are the example questions (rag/examples.py).
    examples = ExampleQuestions.of(tq, [r["gold"][0] for r in train_rows], embedder.name)
    examples.save(out.with_suffix(".examples.npz"), {"questions": len(tq), "files": meta["files"]})
    print(f"\nwrote {out}; paper channel hit@5 with it, every question (before -> after):")
    for name, (rows, q, gold) in encoded.items():
        report(name, rows, q, gold, m)

if __name__ == "__main__":
    main()
