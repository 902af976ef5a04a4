"""Files a generation keeps for memory-mapped loading: a process opens them in milliseconds and pages in only
what a question touches, whatever the corpus size."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())


def load_array(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r")


class StringTable(Sequence[str]):
    """Many strings as one UTF-8 blob plus an offsets array: no JSON to parse at start-up, one string decoded
    when it is read."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray):
        self._blob = blob
        self._offsets = offsets

    @staticmethod
    def write(path: Path, strings: Sequence[str]) -> None:
        encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        save_array(path.with_suffix(".offsets.npy"), offsets)
        with open(path, "wb") as f:
            f.write(b"".join(encoded))
            f.flush()
            os.fsync(f.fileno())

    @classmethod
    def open(cls, path: Path) -> StringTable:
        size = path.stat().st_size
        blob = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, dtype=np.uint8)
        return cls(blob, load_array(path.with_suffix(".offsets.npy")))

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  # one string; slices are not needed
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        return bytes(self._blob[start:end]).decode("utf-8", "surrogatepass")
