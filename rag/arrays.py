"""Files a generation keeps for memory-mapped loading: a process opens them in milliseconds and pages in only
what a question touches, whatever the corpus size."""

from __future__ import annotations

import io
import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np

T = TypeVar("T")


def save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, array)
        f.flush()
        os.fsync(f.fileno())


def load_array(path: Path) -> np.ndarray:
    return np.load(path, mmap_mode="r")


def _float32_header(rows: int, dim: int) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": (rows, dim)})
    return out.getvalue()


class RowWriter:
    """A float32 (rows, dim) .npy file written block by block when the row count is known only at the end, so an
    ingest never holds the matrix. numpy pads the header so the first axis can grow without changing its length:
    the header is written again, in place, by `close`."""

    def __init__(self, path: Path, dim: int):
        self.path, self.dim, self.rows = path, dim, 0
        self._f: BinaryIO = open(path, "wb")  # held open across add() calls
        self._f.write(_float32_header(0, dim))

    def add(self, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=np.float32).reshape(-1, self.dim)
        if not len(block):  # a paper with no quotable sentence: nothing to write (memoryview refuses a zero shape)
            return
        self._f.write(block.data.cast("B"))  # the array's own bytes: no copy of the block
        self.rows += len(block)

    def close(self) -> int:
        header = _float32_header(self.rows, self.dim)
        assert len(header) == len(_float32_header(0, self.dim))  # room for any row count (numpy's padding)
        self._f.seek(0)
        self._f.write(header)
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        return self.rows


def _mapping(array: np.ndarray) -> mmap.mmap | None:
    """The memory map a file-backed array (or what it views) reads from; None for an array in memory."""
    base: object = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None)
    return base


def release(array: np.ndarray) -> None:
    """Drop the pages this process has read of a file-backed memory map (`array` or what it views) from its memory;
    they stay in the page cache, so reading them again is cheap. A pass over a map then leaves none of it resident:
    read pages otherwise count in the process's memory until it unmaps the file."""
    if (m := _mapping(array)) is not None:
        m.madvise(mmap.MADV_DONTNEED)


def read_at_random(array: np.ndarray) -> np.ndarray:
    """Tell the kernel a file-backed memory map (`array` or what it views) is read at random rows: no read-ahead,
    and a fault maps its own page, not the 16 around it (fault-around), which made each question's few thousand
    scattered rows count ~16 times over in this process's memory. Returns `array`."""
    if (m := _mapping(array)) is not None:
        m.madvise(mmap.MADV_RANDOM)
    return array


def released(values: Iterable[T], array: np.ndarray, every: int = 4096) -> Iterator[T]:
    """`values` (read from the memory map `array`), releasing the map's pages every `every` values: read in random
    order, each value may hold a page (65,536 of them held ~250 MB at 100k papers)."""
    for n, value in enumerate(values, 1):
        yield value
        if n % every == 0:
            release(array)


def save_rows(path: Path, rows: np.ndarray, order: np.ndarray, block: int = 4096) -> None:
    """rows[order] as a float32 .npy, gathered a block at a time (rows may be a memory map larger than memory,
    released after each block). Small blocks: a gather in random order touches a page of the map per row, so a
    block of 65,536 rows held ~100 MB of copies and ~256 MB of read pages at once (measured at 100k papers)."""
    out = RowWriter(path, int(rows.shape[1]))
    for start in range(0, len(order), block):
        out.add(rows[order[start : start + block]])
        release(rows)
    out.close()


class StringTable(Sequence[str]):
    """Many strings as one UTF-8 blob plus an offsets array: no JSON to parse at start-up, one string decoded
    when it is read."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, path: Path | None = None):
        self.path = path  # the blob's file, when opened from one
        # Plain ndarray views of the mapped files: still memory-mapped, without np.memmap's Python-level indexing
        # (three calls per string; 5 ms a question at 100k papers).
        self._blob = blob.view(np.ndarray)
        self._offsets = offsets.view(np.ndarray)

    @staticmethod
    def write(path: Path, strings: Iterable[str]) -> None:
        """Streamed: one string encoded at a time (an ingest passes a generator over hundreds of thousands)."""
        ends = [0]
        with open(path, "wb") as f:
            for s in strings:
                ends.append(ends[-1] + f.write(s.encode("utf-8", "surrogatepass")))
            f.flush()
            os.fsync(f.fileno())
        save_array(path.with_suffix(".offsets.npy"), np.array(ends, dtype=np.int64))

    def read_at_random(self) -> StringTable:
        """See arrays.read_at_random: for a table whose strings are read a few at a time, scattered."""
        read_at_random(self._blob)
        read_at_random(self._offsets)
        return self

    def release(self) -> None:
        """Drop the pages read so far of the blob and offsets (when memory-mapped)."""
        release(self._blob)
        release(self._offsets)

    @classmethod
    def open(cls, path: Path) -> StringTable:
        size = path.stat().st_size
        blob = np.memmap(path, dtype=np.uint8, mode="r") if size else np.zeros(0, dtype=np.uint8)
        return cls(blob, load_array(path.with_suffix(".offsets.npy")), path)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def read(self, fd: int, start: int, end: int) -> list[str]:
        """Strings start..end-1 by one read of the blob's file (open as `fd`), not through its memory map: a caller
        reading most of a large table (an ingest copying it) leaves none of it resident."""
        a, b = int(self._offsets[start]), int(self._offsets[end])
        data = os.pread(fd, b - a, a)
        return [data[int(x) - a : int(y) - a].decode("utf-8", "surrogatepass")
                for x, y in zip(self._offsets[start:end], self._offsets[start + 1 : end + 1], strict=True)]  # fmt: skip

    def __getitem__(self, i: int) -> str:  # type: ignore[override]  # one string; slices are not needed
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        return bytes(self._blob[start:end]).decode("utf-8", "surrogatepass")
