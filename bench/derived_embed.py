"""Bench-only embedder for bench/growth.py: vectors DERIVED from real MiniLM vectors instead of computed.

The synthetic papers of bench/make_arxiv_snapshot.py are real corpus sentences recombined, so every text an
ingest embeds (a chunk, a paper's title + abstract, one sentence) is made of sentences whose real MiniLM
vectors are known. `DerivedEmbedder.embed(text)` = the mean of the real vectors of the known sentences in the
text, plus small seeded Gaussian noise, normalised (a text with no known sentence is embedded for real and
counted). `embed_query` is the real MiniLM: questions are real text.

It reports the real embedder's `name`, so an index built with it opens in a normal `rag` process (which then
embeds questions with the real MiniLM); the bench marks such a data dir and says so in every output. It is not
reachable from Settings or the CLI: only bench/growth.py constructs it, so it cannot be picked by accident.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from rag.index import SentenceStore
from rag.text import searchable, sentences

# Per-dimension noise: |noise| ~ 0.2 on a unit vector, cosine ~0.98 to the clean mean.
NOISE_SIGMA = 0.01


def known_vectors(real: Any, pool: list[str], index_dirs: list[Path], cache_dir: Path) -> dict[str, np.ndarray]:
    """searchable(sentence) -> its real MiniLM vector, for every pool sentence.

    Looked up first in a cache file (keyed by the pool), then in the sentence vectors of built indexes of the
    real corpus (an ingest stores searchable(sentence) vectors for every abstract sentence), and the rest
    embedded now with `real`; the result is cached."""
    keys = sorted({searchable(s) for s in pool})
    digest = hashlib.sha1(("\n".join(keys) + real.name).encode()).hexdigest()[:12]
    cache = cache_dir / f"growth-sentences-{digest}.npy"
    if cache.is_file():
        rows = np.load(cache)
        if rows.shape[0] == len(keys):
            return dict(zip(keys, rows, strict=True))
    found: dict[str, np.ndarray] = {}
    for d in index_dirs:
        try:
            gen = json.loads((d / "current.json").read_text())["generation"]
            folder = d / "generations" / gen
            meta = json.loads((folder / "index.json").read_text())
            if meta.get("identity", {}).get("embedder") != real.name:
                continue
            ranges = json.loads((folder / "sentences.json").read_text())["ranges"]
            stored = SentenceStore(folder).get(list(ranges))
        except (OSError, ValueError, KeyError):
            continue
        for texts, rows in stored.values():
            for t, row in zip(texts, rows, strict=True):
                found.setdefault(searchable(t), np.asarray(row, dtype=np.float32))
    missing = [k for k in keys if k not in found]
    if missing:
        for k, row in zip(missing, np.asarray(real.embed(missing), dtype=np.float32), strict=True):
            found[k] = row
    matrix = np.stack([found[k] for k in keys]).astype(np.float32)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, matrix)
    tmp.replace(cache)
    return dict(zip(keys, matrix, strict=True))


class DerivedEmbedder:
    """Texts -> perturbed means of known real sentence vectors; queries -> the real embedder."""

    def __init__(self, real: Any, known: dict[str, np.ndarray], seed: int = 0, sigma: float = NOISE_SIGMA):
        self.real = real
        self.name: str = real.name  # same vector space: the index opens with the real embedder for queries
        self.batch_size: int = getattr(real, "batch_size", 64)
        self._row = {k: i for i, k in enumerate(known)}
        self._matrix = np.stack(list(known.values())).astype(np.float32)
        self.seed = seed
        self.sigma = sigma
        self.derived = 0  # texts given a derived vector
        self.embedded = 0  # texts with no known sentence, embedded for real

    def _rows(self, text: str) -> list[int]:
        if (i := self._row.get(text)) is not None:
            return [i]
        # Chunks and paper texts put title/authors before a blank line; the abstract text follows it.
        content = text.rsplit("\n\n", 1)[-1]
        return [i for s in sentences(content) if (i := self._row.get(s)) is not None]

    def embed_array(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self._matrix.shape[1]), dtype=np.float32)
        misses: list[int] = []
        for j, text in enumerate(texts):
            rows = self._rows(text)
            if rows:
                out[j] = self._matrix[rows].mean(axis=0)
            else:
                misses.append(j)
        # Seeded by the batch's content: the same corpus gives the same vectors.
        rng = np.random.default_rng([self.seed, zlib.crc32("\x00".join(texts).encode())])
        out += rng.normal(0.0, self.sigma, out.shape).astype(np.float32)
        if misses:
            out[misses] = np.asarray(self.real.embed([texts[j] for j in misses]), dtype=np.float32)
        self.derived += len(texts) - len(misses)
        self.embedded += len(misses)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)  # type: ignore[no-any-return]

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self.embed_array(texts).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self.real.embed_query(text)]
