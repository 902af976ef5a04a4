"""Example questions: questions people asked about a paper, as a way to find it again.

A lay question ("why do chatbots make things up?") often shares more with other everyday questions about the same
paper than with the paper's abstract. The training questions (`eval/train/*.jsonl`, written for the query adapter,
none of them in an eval split) are kept as the paper model's vectors, one row per question with its paper's id; a
lay question's closest example questions vote for their papers, each with its best cosine (`Retriever.search`,
channel "examples", `retrieval.examples_weight`). This is doc2query's idea without a model writing the questions.

The vectors are stored as the plain paper model embeds them and moved by the query adapter when one is in use, so
they live in the same space as the questions they are compared with. Papers with no example question get nothing
from this channel: a corpus that grows wants example questions for its new papers (`eval/train_adapter.py` writes
this file beside the adapter).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rag.adapter import fitted_file, shipped_path

if TYPE_CHECKING:
    from rag.adapter import QueryAdapter


def shipped_examples_path(model: str) -> Path:
    """Where the example questions embedded by `model` ('paper:all-mpnet-base-v2') are shipped."""
    return shipped_path(model).with_suffix(".examples.npz")


@dataclass(frozen=True)
class ExampleQuestions:
    vectors: np.ndarray  # (n, dim) float32 unit rows, grouped by paper (all of a paper's rows together)
    papers: list[str]  # the paper id of each group, in row order
    starts: np.ndarray  # the first row of each group
    model: str  # the embedder that embedded them

    @classmethod
    def of(cls, vectors: np.ndarray, paper_ids: list[str], model: str) -> ExampleQuestions:
        """Rows in any order, grouped here by paper (stable: a paper's questions keep their order)."""
        if len(vectors) != len(paper_ids) or not len(paper_ids):
            raise ValueError(f"{len(vectors)} vectors for {len(paper_ids)} paper ids")
        order = sorted(range(len(paper_ids)), key=lambda i: paper_ids[i])
        ids = [paper_ids[i] for i in order]
        starts = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
        rows = np.asarray(vectors, dtype=np.float32)[order]
        rows = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
        return cls(rows, [ids[i] for i in starts], np.asarray(starts, dtype=np.int64), model)

    def moved(self, adapter: QueryAdapter | None) -> ExampleQuestions:
        """The examples in the space the questions are searched in: through the query adapter, as questions are."""
        if adapter is None or adapter.matrix.shape[0] != self.vectors.shape[1]:
            return self
        return ExampleQuestions(adapter.apply_rows(self.vectors), self.papers, self.starts, self.model)

    def _row_papers(self) -> np.ndarray:
        """The paper id of every row (the groups spread out again)."""
        return np.repeat(np.asarray(self.papers), np.diff(np.append(self.starts, len(self.vectors))))

    def among(self, paper_ids: set[str]) -> ExampleQuestions | None:
        """Only the questions about these papers (the catalog's): a corpus of one's own shares none of the shipped
        ones, and a vote for a paper it lacks would take a place among the hits. None when none is left."""
        ids = self._row_papers()
        keep = np.isin(ids, list(paper_ids))
        if not keep.any():
            return None
        if keep.all():
            return self
        return ExampleQuestions.of(self.vectors[keep], [str(p) for p in ids[keep]], self.model)

    def best(self, query: np.ndarray) -> dict[str, float]:
        """Each paper's best cosine between `query` and one of its example questions."""
        if query.shape[0] != self.vectors.shape[1]:
            return {}
        best = np.maximum.reduceat(self.vectors @ query, self.starts)
        return dict(zip(self.papers, best.tolist(), strict=True))

    def save(self, path: Path, meta: dict[str, object] | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        ids = self._row_papers()
        with path.open("wb") as f:  # float16: cosines within 1e-3, half the file
            np.savez_compressed(f, vectors=self.vectors.astype(np.float16), paper_ids=ids, model=np.array(self.model),
                                meta=np.array(json.dumps(meta or {})))  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> ExampleQuestions:
        with np.load(path, allow_pickle=False) as got:
            vectors = np.asarray(got["vectors"], dtype=np.float32)
            ids, model = [str(p) for p in got["paper_ids"]], str(got["model"])
        if vectors.ndim != 2:
            raise ValueError(f"{path}: the example vectors are {vectors.shape}, not a matrix")
        return cls.of(vectors, ids, model)


@cache
def examples_for(setting: str, model: str) -> ExampleQuestions | None:
    """The example questions `embedding.paper_examples` names for `model`: 'shipped' (rag/adapters/, if there),
    'none', or a path."""
    return fitted_file(setting, shipped_examples_path(model), ExampleQuestions.load, "example questions", model)
