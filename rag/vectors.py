"""Exact dense scoring in memory, for indexes small enough to hold (a few hundred thousand chunks).

One matrix product scores every chunk and every paper vector against the question: no approximate
search, no per-question round trips to Chroma, and every candidate paper gets its exact cosine.
Above `retrieval.exact_max_chunks` the retriever asks Chroma's HNSW index instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def single_threaded_blas() -> None:
    """One BLAS thread for the whole process. The retriever's products (a question against a few thousand to a
    few hundred thousand rows) gain nothing from threads, and on a shared CPU a multi-threaded OpenBLAS call waits
    for its second core: measured 9 ms instead of 0.9 ms for 1,424 x 384 while the embedder also runs."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


class VectorCache:
    def __init__(self, chunks: Any, papers: Any):
        single_threaded_blas()
        got = chunks.get(include=["embeddings", "metadatas", "documents"])
        self.chunk_ids: list[str] = list(got["ids"])
        self.texts: list[str] = [d or "" for d in got["documents"]]
        owners = [str(m["paper_id"]) for m in got["metadatas"]]
        self.paper_ids: list[str] = sorted(set(owners))
        where = {pid: i for i, pid in enumerate(self.paper_ids)}
        self.owner = np.array([where[o] for o in owners], dtype=np.int64)
        self.matrix = _unit(got["embeddings"])
        pv = papers.get(include=["embeddings"])
        self.paper_index = {pid: i for i, pid in enumerate(pv["ids"])}
        self.paper_matrix = _unit(pv["embeddings"])

    def chunks_by_paper(
        self, vector: list[float], allowed: set[str] | None, per_paper: int = 3
    ) -> dict[str, list[tuple[str, str, float]]]:
        """paper id -> its best chunks (chunk id, text, cosine), best first, for every (allowed) paper."""
        if not self.chunk_ids:
            return {}
        sims = self.matrix @ np.asarray(vector, dtype=np.float32)
        # By paper, best chunk first within each: one sort on paper + (1 - cosine) (cosines lie in [-1, 1]).
        order = np.argsort(self.owner * 4.0 - sims, kind="stable")
        owners = self.owner[order]
        # Rank of each chunk within its paper (0 = best): position minus where the paper's run starts.
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        kept = order[rank < per_paper]
        # Plain lists, not numpy scalars, in the one Python loop left: it runs per kept chunk.
        out: dict[str, list[tuple[str, str, float]]] = {}
        for o, j, s in zip(self.owner[kept].tolist(), kept.tolist(), sims[kept].tolist(), strict=True):
            pid = self.paper_ids[o]
            if allowed is None or pid in allowed:
                out.setdefault(pid, []).append((self.chunk_ids[j], self.texts[j], s))
        return dict(sorted(out.items(), key=lambda kv: -kv[1][0][2]))

    def paper_sims(self, vector: list[float]) -> dict[str, float]:
        """paper id -> cosine of its title + abstract vector to the question."""
        if not self.paper_index:
            return {}
        sims = self.paper_matrix @ np.asarray(vector, dtype=np.float32)
        return {pid: float(sims[i]) for pid, i in self.paper_index.items()}


def _unit(rows: Any) -> np.ndarray:
    m = np.asarray(rows if rows is not None and len(rows) else np.zeros((0, 1)), dtype=np.float32)
    if m.ndim != 2 or not len(m):
        return np.zeros((0, 1), dtype=np.float32)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
