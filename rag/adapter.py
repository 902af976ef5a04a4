"""A learned linear map on the paper model's question vectors (a "query adapter").

People outside a field ask about a paper in words its abstract does not use ("chatbots that make things up" for a
hallucination paper). all-mpnet-base-v2 places such a question away from the abstract it is about, and the shift is
systematic: the same everyday phrasings miss the same technical wording. A matrix M, fitted on training questions
(`eval/train/*.jsonl`, written for this purpose, none of them in an eval split) so that each question's vector `q @ M`
lands nearer its paper's title + abstract vector, moves questions toward the wording of abstracts. Only questions
move: the papers' stored vectors, and so the index, stay as they are.

M stays close to the identity (a penalty on M - I during training, `eval/train_adapter.py`), so that it learns
phrasing more than papers. It still helps on papers no training question was about, but less: about a third of its
gain on held-out questions (docs/notes/lay.md). The rest comes from other questions about the same papers, so a
corpus that grows wants training questions for its new papers and a refit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

import numpy as np

if TYPE_CHECKING:
    from rag.embed import Embedder

log = logging.getLogger(__name__)

SHIPPED_DIR = Path(__file__).parent / "adapters"


def shipped_path(model: str) -> Path:
    """Where the adapter fitted for `model` (an embedder name such as 'paper:all-mpnet-base-v2') is shipped."""
    return SHIPPED_DIR / f"{model.replace(':', '-')}.npz"


@dataclass(frozen=True)
class QueryAdapter:
    matrix: np.ndarray  # (dim, dim) float32: a question vector q becomes q @ matrix, then unit length
    model: str  # the embedder whose question vectors it was fitted on
    meta: dict[str, object]  # how it was fitted (questions, penalty, temperature, ...)

    def apply(self, vector: list[float]) -> list[float]:
        if len(vector) != self.matrix.shape[0]:  # another width: the vector as it is, not a shape error per question
            return vector
        v = np.asarray(vector, dtype=np.float32) @ self.matrix
        norm = float(np.linalg.norm(v))
        return vector if norm == 0.0 else (v / norm).tolist()

    def apply_rows(self, rows: np.ndarray) -> np.ndarray:
        """Many question vectors at once (n, dim): each moved, then unit length again."""
        moved = rows @ self.matrix
        return (moved / np.maximum(np.linalg.norm(moved, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # float16 halves the file; the cosines it changes differ by < 1e-3 (tests/test_adapter.py)
        with path.open("wb") as f:
            np.savez_compressed(f, matrix=self.matrix.astype(np.float16), model=np.array(self.model),
                                meta=np.array(json.dumps(self.meta)))  # fmt: skip

    @classmethod
    def load(cls, path: Path) -> QueryAdapter:
        with np.load(path, allow_pickle=False) as got:
            matrix = np.asarray(got["matrix"], dtype=np.float32)
            model, meta = str(got["model"]), json.loads(str(got["meta"]))
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"{path}: the adapter's matrix is {matrix.shape}, not square")
        return cls(matrix, model, meta)


class _Fitted(Protocol):
    @property
    def model(self) -> str: ...


F = TypeVar("F", bound=_Fitted)


def fitted_file(setting: str, shipped: Path, load: Callable[[Path], F], what: str, model: str) -> F | None:
    """The file a setting names for `model`: 'shipped' (`shipped`, quietly nothing when absent), 'none', or a path.
    A broken file, or one made with another model, is not used and a note says why: vectors of another model would
    scatter the questions."""
    if setting == "none":
        return None
    path = shipped if setting == "shipped" else Path(setting)
    if setting == "shipped" and not path.is_file():
        return None
    try:
        got = load(path)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("note: %s %s not used: %s: %s", what, path, type(exc).__name__, exc)
        return None
    if got.model != model:
        log.warning("note: %s %s was made with %s, not %s: not used", what, path, got.model, model)
        return None
    return got


@cache
def adapter_for(setting: str, model: str) -> QueryAdapter | None:
    """The adapter `embedding.paper_query_adapter` names for `model`: 'shipped' (the one in rag/adapters/, if any),
    'none', or a path."""
    return fitted_file(setting, shipped_path(model), QueryAdapter.load, "query adapter", model)


class AdaptedQueries:
    """An embedder whose question vectors go through a query adapter; documents are embedded as before."""

    def __init__(self, embedder: Embedder, adapter: QueryAdapter):
        self.inner, self.adapter = embedder, adapter
        self.name = embedder.name  # same model, same stored vectors: the index identity does not change

    def embed(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.adapter.apply(self.inner.embed_query(text))
