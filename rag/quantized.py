"""An 8-bit copy of the paper vectors: the first pass of an exact top-n search over a million of them.

Every question scores every paper vector (the chunk prefilter, the paper channel). In float32 that reads 1.5 GB at
1M papers: 64 ms on this machine, bound by memory bandwidth. An int8 copy with one scale per row is a quarter of
the bytes, and onnxruntime's integer matrix product (already loaded for the embedder) reads it in ~14 ms on one
core. The search stays exact: a row's int8 score is within a bound E of its float32 cosine (`Int8Rows.bound`), so
once the float32 cosines of a first guess set a floor for the n-th best, every row whose int8 score comes within E
of that floor is scored in float32, and the n best of those are the exact n best. At 1M papers that is 4k-10k
float32 rows per question (measured), not a million. An approximation that changes answers was tried and
rejected (docs/notes/growth.md, "coarse pass"); this one cannot change them.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from rag.arrays import load_array, release, save_array

CODES, SCALES, COLSUM, INFO = "papers.i8.npy", "papers.i8.scales.npy", "papers.i8.colsum.npy", "papers.i8.json"
BLOCK = 65_536  # rows quantised at a time: a write never holds the float32 matrix

# One ONNX node, MatMulInteger(q: uint8 [1, dim], codes: int8 [dim, rows]) -> int32 [1, rows], serialised here so a
# serving process need not import the onnx package (0.8 s) to build it; tests/test_quantized.py rebuilds it with
# onnx.helper and compares. uint8 x int8 is the pair MLAS has fast kernels for (int8 x int8 measured 15x slower),
# and with no zero-point input: the question's +128 offset is taken off with each row's column sum.
MODEL = base64.b64decode(
    "CAgSCXBhcGVyY2hhdDqGAQohCgFxCgVjb2RlcxIGc2NvcmVzIg1NYXRNdWxJbnRlZ2VyEgtpbnQ4X3Njb3Jlc1oWCgFxEhEKDwgCEgsKAggBCgUS"
    "A2RpbVoeCgVjb2RlcxIVChMIAxIPCgUSA2RpbQoGEgRyb3dzYhwKBnNjb3JlcxISChAIBhIMCgIIAQoGEgRyb3dzQgQKABAN"
)
OFFSET = 128


def _quantise(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, scale per row): each row divided by its largest magnitude / 127 and rounded."""
    scales = (np.maximum(np.abs(x).max(axis=1), 1e-12) / 127.0).astype(np.float32)
    return np.rint(x / scales[:, None]).astype(np.int8), scales


def write_int8(folder: Path, matrix: np.ndarray) -> None:
    """Write the int8 copy of `matrix` (unit float32 rows, memory-mapped is fine) into `folder`, a block of rows at a
    time; INFO last, so its presence means the copy is complete. The pages read of `matrix` and written of the copy
    are released block by block: at 1M papers, kept, they added ~1.9 GB to the ingest's peak memory (6.2 GB)."""
    rows, dim = matrix.shape
    codes = np.lib.format.open_memmap(folder / CODES, mode="w+", dtype=np.int8, shape=(dim, rows))
    scales = np.zeros(rows, dtype=np.float32)
    colsum = np.zeros(rows, dtype=np.int32)
    residual = norm = 0.0
    for s in range(0, rows, BLOCK):
        x = np.asarray(matrix[s : s + BLOCK], dtype=np.float32)
        c, sc = _quantise(x)
        back = c.astype(np.float32) * sc[:, None]
        residual = max(residual, float(np.linalg.norm(x - back, axis=1).max()))
        norm = max(norm, float(np.linalg.norm(back, axis=1).max()))
        codes[:, s : s + len(x)] = c.T  # stored transposed: [dim, rows] is the layout the fast kernel reads
        scales[s : s + len(x)] = sc
        colsum[s : s + len(x)] = c.sum(axis=1, dtype=np.int32)
        codes.flush()  # written to the file, then dropped from this process
        release(codes)
        release(matrix)
    codes.flush()
    with open(folder / CODES, "rb+") as f:
        os.fsync(f.fileno())
    del codes
    save_array(folder / SCALES, scales)
    save_array(folder / COLSUM, colsum)
    (folder / INFO).write_text(json.dumps({"rows": rows, "residual": residual, "norm": norm}), encoding="utf-8")


class Int8Rows:
    """The int8 copy of a generation's paper matrix (rows in the same order), scored against a question."""

    def __init__(self, codes: np.ndarray, scales: np.ndarray, colsum: np.ndarray, residual: float, norm: float):
        self.codes, self.scales, self.colsum = codes, scales, colsum
        self.residual, self.norm = residual, norm  # largest |x - x_int8| and |x_int8| over the rows
        self._session: Any = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, folder: Path, rows: int) -> Int8Rows | None:
        """The copy in `folder`, memory-mapped; None when absent, incomplete or not of `rows` rows."""
        try:
            info = json.loads((folder / INFO).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if info.get("rows") != rows:
            return None
        return cls(load_array(folder / CODES), load_array(folder / SCALES), load_array(folder / COLSUM),
                   float(info["residual"]), float(info["norm"]))  # fmt: skip

    def _run(self, q: np.ndarray) -> np.ndarray:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    import onnxruntime as ort

                    opts = ort.SessionOptions()
                    # One thread: memory bound (14.5 ms on one core, 12.6 on two), and the rest of the process
                    # stays free to run beside it.
                    opts.intra_op_num_threads = 1
                    opts.inter_op_num_threads = 1
                    self._session = ort.InferenceSession(MODEL, opts, providers=["CPUExecutionProvider"])
        return self._session.run(None, {"q": q, "codes": self.codes})[0][0]

    def scores(self, q: np.ndarray, matrix: np.ndarray) -> PaperPass:
        """One question's pass over every row: the int8 estimate of each row's cosine to q, and the bound E with
        |estimate - float32 cosine| <= E for every row (Cauchy-Schwarz: |x - x8| |q| + |x8| |q - q8|, plus
        float32 rounding). `matrix`: the float32 rows, read where the estimate cannot decide."""
        qs = max(float(np.abs(q).max()), 1e-12) / 127.0
        qc = np.rint(q / qs).astype(np.int32)
        ints = self._run((qc + OFFSET).astype(np.uint8)[None, :]) - OFFSET * self.colsum
        estimate = ints.astype(np.float32) * (self.scales * np.float32(qs))
        q8 = qc.astype(np.float32) * np.float32(qs)
        bound = self.residual * float(np.linalg.norm(q)) + self.norm * float(np.linalg.norm(q - q8)) + 1e-5
        return PaperPass(matrix, q, estimate, bound)


SAMPLE_EVERY = 16  # the n-th best estimate is first guessed from every 16th row: a pass, not a partition of all


class PaperPass:
    """Exact top-n searches over the paper rows for one question, from the int8 estimates. The float32 cosines
    read are kept, so a second search (the paper channel after the prefilter) reads few or no rows."""

    def __init__(self, matrix: np.ndarray, q: np.ndarray, estimate: np.ndarray, bound: float):
        self.matrix, self.q, self.estimate, self.bound = matrix, q, estimate, bound
        self._rows = np.zeros(0, dtype=np.int64)  # sorted rows whose float32 cosine is known
        self._cos = np.zeros(0, dtype=np.float32)
        self._lock = threading.Lock()  # two requests asking the same question share the pass

    def cosines(self, rows: np.ndarray) -> np.ndarray:
        """The float32 cosines of these rows (sorted, unique), read from the matrix for those not read yet."""
        with self._lock:
            return self._cosines(rows)

    def _cosines(self, rows: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(self._rows, rows), max(len(self._rows) - 1, 0))
        known = (self._rows[at] == rows) if len(self._rows) else np.zeros(len(rows), dtype=bool)
        new = rows[~known]
        if len(new):
            self._rows = np.concatenate([self._rows, new])
            self._cos = np.concatenate([self._cos, self.matrix[new] @ self.q])
            order = np.argsort(self._rows, kind="stable")
            self._rows, self._cos = self._rows[order], self._cos[order]
        return self._cos[np.searchsorted(self._rows, rows)]

    def top(self, n: int, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(rows, float32 cosines) of the n rows closest to q among those kept, best first, ties in row order:
        the same as ranking every row's float32 cosine. Only rows the estimate cannot rule out are read."""
        estimate = self.estimate if keep is None else np.where(keep, self.estimate, -np.inf)
        n = min(n, len(estimate) if keep is None else int(keep.sum()))
        if n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        guess = self._guess(estimate, n)
        # These n rows have cosines of at least `floor`, so the n-th best cosine is at least `floor`, and a row whose
        # estimate is below floor - bound cannot reach it.
        floor = float(self.cosines(guess).min())
        rows = np.flatnonzero(estimate >= floor - self.bound)
        cos = self.cosines(rows)
        best = np.argpartition(-cos, n - 1)[:n] if n < len(cos) else np.arange(len(cos))
        best = best[np.lexsort((rows[best], -cos[best]))]
        return rows[best], cos[best]

    def estimated_top(self, n: int, keep: np.ndarray | None) -> np.ndarray:
        """The n rows (among those kept) with the best int8 estimates, best first: no float32 row is read. For a cut
        whose edge need not be exact (the papers whose chunks are scored), not for cosines that rank."""
        estimate = self.estimate if keep is None else np.where(keep, self.estimate, -np.inf)
        n = min(n, len(estimate) if keep is None else int(keep.sum()))
        if n <= 0:
            return np.zeros(0, dtype=np.int64)
        rows = self._guess(estimate, n)
        return rows[np.argsort(-estimate[rows], kind="stable")]

    @staticmethod
    def _guess(estimate: np.ndarray, n: int) -> np.ndarray:
        """n rows with high estimates (sorted): the best by estimate among those above a threshold guessed from a
        sample, or by a partition of every row when the guess falls short."""
        if n >= len(estimate):
            return np.arange(len(estimate))
        sample = estimate[::SAMPLE_EVERY]
        k = min(len(sample), n // SAMPLE_EVERY + 8 + n // (4 * SAMPLE_EVERY))  # ~25% spare
        threshold = np.partition(sample, len(sample) - k)[len(sample) - k]
        above = np.flatnonzero(estimate >= threshold) if threshold > -np.inf else np.zeros(0, dtype=np.int64)
        if len(above) < n:
            return np.sort(np.argpartition(-estimate, n - 1)[:n])
        return np.sort(above[np.argpartition(-estimate[above], n - 1)[:n]])
