"""Exact dense scoring over a generation's memory-mapped dense/ files (measured up to 1M papers, 2.9M chunks).

One matrix product scores every paper vector against the question (and every chunk, up to
`retrieval.prefilter_above_chunks`; above it, the chunks of the papers closest by paper vector): no approximate
search, no per-question round trips to Chroma, and every candidate paper gets its exact cosine. Above
`retrieval.int8_above_papers` the closest papers are found from an int8 copy of the paper vectors
(rag/quantized.py): every cosine that ranks is the float32 one; the prefilter's cut comes from the int8 estimates.
Above `retrieval.exact_max_chunks` the retriever asks Chroma's HNSW index instead (unless the generation stored its
chunk vectors in dense/ only: `chroma.chunks` off).

Per question, Python touches only the best `top` papers (numpy ranks the rest): the answers are built for
those, and any other paper's are computed when fusion asks for it (`Ranked`), so the cost does not grow with
the corpus beyond the matrix product.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

import numpy as np

from rag.arrays import RowWriter, StringTable, load_array, read_at_random, release, released, save_array, save_rows
from rag.quantized import Int8Rows, PaperPass, write_int8

V = TypeVar("V")
RELEASE_EVERY = 4  # questions between two releases of the pages a question read (see chunks_by_paper)
# (chunk id, text, cosine), best first. `VectorCache.chunks_by_paper` leaves each text "" until `with_texts` reads
# it: a question scores ~170 papers' chunks and answers from 5-10, and at 1M papers each text is a random read.
Chunks = list[tuple[str, str, float]]


def single_threaded_blas() -> None:
    """One BLAS thread for the whole process. The retriever's small products (a question against a few thousand
    rows) gain nothing from threads, and on a shared CPU a multi-threaded OpenBLAS call waits for its second core:
    measured 9 ms instead of 0.9 ms for 1,424 x 384 while the embedder also runs. `product` lifts it for large
    matrices only."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


PARALLEL_ROWS = 50_000  # from here a product is memory bound: 100k x 384 took 11.3 ms on one thread, 5.6 on two


def product(matrix: np.ndarray, q: np.ndarray) -> np.ndarray:
    """matrix @ q, on every core for a matrix of PARALLEL_ROWS rows or more (the rest of the process stays on
    one BLAS thread, see single_threaded_blas)."""
    if len(matrix) < PARALLEL_ROWS:
        return matrix @ q
    with _blas().limit(limits=os.cpu_count() or 1, user_api="blas"):
        return matrix @ q


@functools.cache
def _blas() -> Any:
    """The process's BLAS libraries, found once: `threadpool_limits` looks them up on every call (2 ms)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class Ranked(dict[str, V]):
    """The best papers, best first, as a dict; any other paper's value is computed when looked up (`in`, `[]`,
    `.get`), so fusion can score every candidate it has without the whole corpus being turned into Python."""

    def __init__(self, best: Iterable[tuple[str, V]], lookup: Callable[[str], V | None]):
        super().__init__(best)
        self._lookup = lookup

    @classmethod
    def empty(cls) -> Ranked[Any]:
        """A channel with no paper (its vectors absent or the channel off)."""
        return cls([], lambda pid: None)

    def _fill(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if not isinstance(key, str) or (value := self._lookup(key)) is None:
            return False
        super().__setitem__(key, value)
        return True

    def __contains__(self, key: object) -> bool:
        return self._fill(key)

    def __missing__(self, key: str) -> V:
        if self._fill(key):
            return dict.__getitem__(self, key)
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if self._fill(key) else default


DENSE_FOLDER = "dense"  # in a generation: the vectors of exact scoring, written at ingest (`DenseWriter`)
CATALOG_POS = "catalog_pos.npy"  # catalog position -> index into paper_ids (-1: a paper without chunks)


class VectorCache:
    """Every chunk vector (rows grouped by paper) and every paper vector of a generation, for exact scoring."""

    def __init__(
        self,
        chunk_ids: Sequence[str],
        texts: Sequence[str],
        owner: np.ndarray,
        matrix: np.ndarray,
        paper_ids: list[str],
        paper_vector_ids: list[str],
        paper_matrix: np.ndarray,
        *,
        top: int = 100,
        prefilter: int = 0,
        int8: Int8Rows | None = None,
    ):
        """owner[i]: index into paper_ids of chunk row i, rows sorted by owner; matrices with unit rows.
        `prefilter` > 0: chunks are scored only for that many papers closest by their title + abstract vector
        (any other paper's on lookup): one product over the paper matrix instead of every chunk row.
        `int8`: the paper matrix's int8 copy; the best papers are then found from it, still exactly (rag.quantized),
        and the float32 rows are read only for the papers it cannot rule out."""
        single_threaded_blas()
        self.top = top
        self.prefilter = prefilter
        self._row_pos: np.ndarray | None = None  # paper matrix row -> paper_ids position (-1: no chunks)
        self._pos_row: np.ndarray | None = None  # paper_ids position -> paper matrix row (-1: no paper vector)
        self._ord_pos: np.ndarray | None = None  # catalog position -> paper_ids position (-1: no chunks)
        self._questions = 0  # prefiltered questions asked (pages released every RELEASE_EVERY)
        self._rows_with_chunks: np.ndarray | None = None
        self._last_products: tuple[bytes, np.ndarray] | None = None
        self._last_pass: tuple[bytes, PaperPass] | None = None
        self.int8 = int8
        # Plain arrays over the memory maps: np.memmap's Python-level indexing cost ~5 us on each of a question's
        # hundreds of row reads.
        self.chunk_ids, self.texts, self.owner, self.matrix = chunk_ids, texts, np.asarray(owner), np.asarray(matrix)
        self.paper_ids = paper_ids
        self._pos = {pid: i for i, pid in enumerate(paper_ids)}
        self.starts = np.searchsorted(owner, np.arange(len(paper_ids)))
        self.ends = np.r_[self.starts[1:], len(owner)].astype(np.int64)
        self.paper_order = paper_vector_ids
        self.paper_index = {pid: i for i, pid in enumerate(paper_vector_ids)}
        self.paper_matrix = np.asarray(read_at_random(paper_matrix) if int8 is not None else paper_matrix)

    @classmethod
    def from_collections(cls, chunks: Any, papers: Any, *, top: int = 100, prefilter: int = 0) -> VectorCache:
        """From the Chroma collections (a generation written before dense/ existed)."""
        got = _get_all(chunks, ["embeddings", "metadatas", "documents"])
        owners = [str(m["paper_id"]) for m in got["metadatas"]]
        paper_ids = sorted(set(owners))
        pos = {pid: i for i, pid in enumerate(paper_ids)}
        owner = np.array([pos[o] for o in owners], dtype=np.int64)
        by_paper = np.argsort(owner, kind="stable")  # rows grouped by paper: one slice per paper
        matrix = _unit(got["embeddings"])[by_paper] if len(by_paper) else _unit(None)
        pv = _get_all(papers, ["embeddings"])
        return cls([got["ids"][i] for i in by_paper], [got["documents"][i] or "" for i in by_paper], owner[by_paper],
                   matrix, paper_ids, list(pv["ids"]), _unit(pv["embeddings"]), top=top,
                   prefilter=prefilter)  # fmt: skip

    @classmethod
    def open(
        cls, folder: Path, *, top: int = 100, prefilter: int = 0, int8_above: int | None = None
    ) -> VectorCache | None:
        """From a generation's dense/ folder, memory-mapped: milliseconds at any size. None when absent.
        Above `int8_above` paper vectors the folder's int8 copy ranks them, when it has one."""
        if not (folder / "meta.json").is_file():
            return None
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        rows = len(meta["paper_vector_ids"])
        int8 = Int8Rows.open(folder, rows) if int8_above is not None and rows > int8_above else None
        cache = cls(StringTable.open(folder / "chunk_ids").read_at_random(),
                    StringTable.open(folder / "texts").read_at_random(), load_array(folder / "owner.npy"),
                    read_at_random(load_array(folder / "chunks.npy")), meta["paper_ids"],
                    meta["paper_vector_ids"], load_array(folder / "papers.npy"), top=top,
                    prefilter=prefilter, int8=int8)  # fmt: skip
        if (folder / CATALOG_POS).is_file():  # written by the same ingest as the generation's catalog
            cache._ord_pos = load_array(folder / CATALOG_POS)
        return cache

    def release(self) -> None:
        """Drop the pages read so far of the memory-mapped files (a pass over every row, as a re-ingest's copy)."""
        # The int8 copy is read whole by every question, and the paper rows it cannot rule out (~5k a question) are
        # read again soon by others: both stay (released, the paper rows cost ~40 ms a question in faults, measured).
        for array in (self.matrix, self.owner):
            release(array)
        for table in (self.chunk_ids, self.texts):
            if isinstance(table, StringTable):
                table.release()

    def position(self, paper_id: str) -> int | None:
        """The paper's index into `paper_ids` (its chunk rows are starts[i]:ends[i]); None without chunks."""
        return self._pos.get(paper_id)

    def keep_at(self, ords: np.ndarray, ids_in_order: Callable[[], list[str]]) -> np.ndarray:
        """The allowed-papers mask `chunks_by_paper` takes, from the catalog positions a filter allows: one
        vectorised step per question (a set of 100k paper ids looked up one by one took ~80 ms at 1M papers). The
        position map is the one the ingest wrote (CATALOG_POS), or built on the first filtered question from the
        catalog's ids in order (1.1 s at 1M papers)."""
        pos = self._ord_positions(ids_in_order)[np.asarray(ords, dtype=np.int64)]
        keep = np.zeros(len(self.paper_ids), dtype=bool)
        keep[pos[pos >= 0]] = True
        return keep

    def _ord_positions(self, ids_in_order: Callable[[], list[str]]) -> np.ndarray:
        if self._ord_pos is None:
            self._ord_pos = np.fromiter((self._pos.get(pid, -1) for pid in ids_in_order()), dtype=np.int64)
        return self._ord_pos

    def _mask(self, allowed: set[str] | None, index: dict[str, int], n: int) -> np.ndarray | None:
        if allowed is None:
            return None
        keep = np.zeros(n, dtype=bool)
        keep[[index[p] for p in allowed if p in index]] = True
        return keep

    def chunks_by_paper(
        self, vector: list[float], allowed: set[str] | np.ndarray | None, per_paper: int = 3
    ) -> Ranked[Chunks]:
        """paper id -> its best chunks (chunk id, text, cosine), best first; papers ordered by their best chunk.
        Holds the `top` best (allowed) papers; any other allowed paper's chunks are computed on lookup. `allowed`:
        paper ids, or a mask over `paper_ids` (`keep_at`)."""
        if not len(self.chunk_ids):
            return Ranked.empty()
        q = np.asarray(vector, dtype=np.float32)
        keep = allowed if isinstance(allowed, np.ndarray) else self._mask(allowed, self._pos, len(self.paper_ids))
        if self.prefilter and self.prefilter < len(self.paper_ids) and self.paper_index:
            # Each question reads a few thousand random pages of GB-sized files (chunk rows, texts), which stay
            # counted in this process's memory until released: at 1M papers RSS grew to the files' size (7 GB).
            # Released every RELEASE_EVERY questions, not every one: a page read again after a release costs a
            # fault (every question: +12 ms at 100k papers, measured). Without the prefilter every row is read.
            self._questions += 1
            if self._questions % RELEASE_EVERY == 0:
                self.release()
            sims_of, ranked = self._prefiltered(q, keep)
        else:
            sims = product(self.matrix, q)
            best = np.maximum.reduceat(sims, self.starts) if len(self.starts) else sims[:0]
            ranked = top_indices(best, keep, self.top)

            def sims_of(i: int) -> np.ndarray:
                return sims[int(self.starts[i]) : int(self.ends[i])]

        def chunks_of(i: int) -> Chunks:
            s, sub = int(self.starts[i]), sims_of(i)
            order = np.argsort(-sub, kind="stable")[:per_paper]
            return [(self.chunk_ids[s + j], "", float(sub[j])) for j in order.tolist()]

        def lookup(pid: str) -> Chunks | None:
            i = self._pos.get(pid)
            return None if i is None or (keep is not None and not keep[i]) else chunks_of(i)

        return Ranked(((self.paper_ids[i], chunks_of(i)) for i in ranked), lookup)

    def with_texts(self, paper_id: str, chunks: Chunks) -> Chunks:
        """These chunks of one paper (from `chunks_by_paper`) with their texts read."""
        if (i := self._pos.get(paper_id)) is None:
            return chunks
        rows = {self.chunk_ids[r]: r for r in range(int(self.starts[i]), int(self.ends[i]))}
        return [(c, t or (self.texts[rows[c]] if c in rows else t), s) for c, t, s in chunks]

    def closest_at(self, vector: list[float], ords: list[int], n: int, catalog: CatalogIds) -> list[int]:
        """The n of these catalog positions whose papers are closest to the question by title + abstract vector,
        best first (ties in paper matrix order), then those without a vector, as given: for thousands of metadata
        matches, only the rows the int8 pass cannot rule out are read, and no paper id is looked up but those of
        papers without chunks (the position map goes through the chunk owners)."""
        if self._pos_row is None:
            self._index_rows()
        assert self._pos_row is not None
        at = np.asarray(ords, dtype=np.int64)
        pos = self._ord_positions(catalog.ids_in_order)[at]
        rows = np.full(len(at), -1, dtype=np.int64)
        rows[pos >= 0] = self._pos_row[pos[pos >= 0]]
        if len(lost := np.flatnonzero(pos < 0)):  # a paper without chunks may still have a paper vector
            ids = catalog.id_map(at[lost].tolist())
            rows[lost] = [self.paper_index.get(ids.get(int(o), ""), -1) for o in at[lost]]
        has = rows >= 0
        keep = np.zeros(len(self.paper_order), dtype=bool)
        keep[rows[has]] = True
        best = self._top_rows(np.asarray(vector, dtype=np.float32), n, keep)[0]
        order = np.argsort(rows[has], kind="stable")
        back = at[has][order][np.searchsorted(rows[has][order], best)]  # matrix row -> its position
        return [*back.tolist(), *at[~has].tolist()][:n]

    def _paper_products(self, q: np.ndarray) -> np.ndarray:
        """Every paper vector's cosine to q. The last question's are kept: prefiltering and the paper channel both
        need them, and at 100k papers each product reads 150 MB."""
        key = q.tobytes()
        last = self._last_products
        if last is not None and last[0] == key:
            return last[1]
        sims = product(self.paper_matrix, q)
        self._last_products = (key, sims)  # one assignment: a concurrent question sees the old pair or the new
        return sims

    def _int8_pass(self, q: np.ndarray) -> PaperPass:
        """The int8 copy's pass over every paper for this question, kept for the last question."""
        assert self.int8 is not None
        key = q.tobytes()
        last = self._last_pass
        if last is not None and last[0] == key:
            return last[1]
        got = self.int8.scores(q, self.paper_matrix)
        self._last_pass = (key, got)
        return got

    def _top_rows(self, q: np.ndarray, n: int, keep: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(paper matrix rows, cosines) of the n papers closest to q among those kept, best first, ties in row
        order: from every float32 cosine, or exactly the same from the int8 copy (`PaperPass.top`)."""
        if self.int8 is None:
            sims = self._paper_products(q)
            rows = np.asarray(top_indices(sims, keep, n), dtype=np.int64)
            return rows, sims[rows]
        return self._int8_pass(q).top(n, keep)

    def _index_rows(self) -> None:
        """paper matrix row -> paper_ids position (-1: a paper vector without chunks), and which rows have chunks."""
        rows = np.array([self.paper_index.get(pid, -1) for pid in self.paper_ids], dtype=np.int64)
        self._pos_row = rows
        row_pos = np.full(len(self.paper_order), -1, dtype=np.int64)
        row_pos[rows[rows >= 0]] = np.nonzero(rows >= 0)[0]
        self._rows_with_chunks = None if bool((row_pos >= 0).all()) else row_pos >= 0
        self._row_pos = row_pos

    def _prefiltered(self, q: np.ndarray, keep: np.ndarray | None) -> tuple[Callable[[int], np.ndarray], list[int]]:
        """Chunk cosines of the `prefilter` papers closest by paper vector only: (paper -> its chunk cosines, the
        `top` papers by best chunk). A paper outside them is scored when looked up."""
        if self._row_pos is None:
            self._index_rows()
        assert self._row_pos is not None
        # Ranked in paper-matrix order and mapped back: no gather of every paper's cosine into paper_ids order
        # (four passes over a million floats).
        allowed = self._rows_with_chunks
        if keep is not None:
            in_order = np.zeros(len(self.paper_order), dtype=bool)
            in_order[self._row_pos >= 0] = keep[self._row_pos[self._row_pos >= 0]]
            allowed = in_order
        # The prefilter is a cut, not a ranking: with the int8 copy, its papers come from the estimates alone (at
        # 1M papers, the exact cut read 3k-10k random float32 rows a question; the paper channel reads its own).
        if self.int8 is not None:
            best_rows = self._int8_pass(q).estimated_top(self.prefilter, allowed)
        else:
            best_rows = self._top_rows(q, self.prefilter, allowed)[0]
        cand = self._row_pos[best_rows]
        lens = (self.ends[cand] - self.starts[cand]).astype(np.int64)
        at = (np.cumsum(lens) - lens).astype(np.int64)  # each paper's first row in `part` (none: no paper allowed)
        picked = np.repeat(self.starts[cand] - at, lens) + np.arange(int(lens.sum()))
        part = self.matrix[picked] @ q if len(picked) else np.zeros(0, dtype=np.float32)
        local = {int(i): (int(o), int(n)) for i, o, n in zip(cand, at, lens, strict=True)}

        def sims_of(i: int) -> np.ndarray:
            if (span := local.get(i)) is not None:
                return part[span[0] : span[0] + span[1]]
            return self.matrix[int(self.starts[i]) : int(self.ends[i])] @ q

        best = np.maximum.reduceat(part, at) if len(part) else part
        return sims_of, [int(cand[j]) for j in top_indices(best, None, self.top)]

    def paper_sims(
        self, vector: list[float], allowed: set[str] | None = None, among: np.ndarray | None = None
    ) -> Ranked[float]:
        """paper id -> cosine of its title + abstract vector to the question, best first; the `top` best held,
        any other paper's computed on lookup. `among` (paper matrix rows): the best are picked from these only,
        a product over them instead of every paper."""
        if not self.paper_index:
            return Ranked.empty()
        q = np.asarray(vector, dtype=np.float32)
        keep = self._mask(allowed, self.paper_index, len(self.paper_order))
        if among is None:
            rows, cos = self._top_rows(q, self.top, keep)
            top = [(self.paper_order[i], c) for i, c in zip(rows.tolist(), cos.tolist(), strict=True)]

            def cosine(i: int) -> float:  # one paper: its row, not a search over the kept cosines
                return float(self.paper_matrix[i] @ q) if self.int8 is not None else float(self._paper_products(q)[i])
        else:
            part = self.paper_matrix[among] @ q
            best = top_indices(part, None if keep is None else keep[among], self.top)
            top = [(self.paper_order[int(among[j])], float(part[j])) for j in best]

            def cosine(i: int) -> float:
                return float(self.paper_matrix[i] @ q)

        def lookup(pid: str) -> float | None:
            i = self.paper_index.get(pid)
            return None if i is None or (keep is not None and not keep[i]) else cosine(i)

        return Ranked(top, lookup)

    def closest_rows(self, vector: list[float], n: int) -> np.ndarray:
        """Paper matrix rows of the n papers closest to the question (from the product it already needs)."""
        return self._top_rows(np.asarray(vector, dtype=np.float32), n, None)[0]


class CatalogIds(Protocol):
    """What the cache asks of the catalog to go from catalog positions to papers."""

    def ids_in_order(self) -> list[str]: ...

    def id_map(self, ords: Iterable[int]) -> dict[int, str]: ...


class DenseWriter:
    """Writes a generation's dense/ folder while an ingest stores its vectors, without holding them: rows are
    appended to spill files in the folder as they come, and grouped by paper (what `VectorCache` needs) by `close`,
    a block at a time from the memory-mapped spill. Past `max_chunks` rows it stops and writes nothing: the
    retriever then asks Chroma instead of scoring exactly (the ingest passes no bound when Chroma has no copy)."""

    def __init__(self, folder: Path, max_chunks: int):
        self.folder, self.max_chunks = folder, max_chunks
        self.spill = folder / "spill"
        self.chunks = 0
        self.gave_up = False
        self._chunk_ids: list[str] = []
        self._owners: list[str] = []
        self._paper_ids: list[str] = []
        self._text_ends = [0]
        self._chunk_rows: RowWriter | None = None
        self._paper_rows: RowWriter | None = None
        self._texts: BinaryIO | None = None

    def _open(self, dim: int) -> None:
        if self._chunk_rows is None:
            self.spill.mkdir(parents=True, exist_ok=True)
            self._chunk_rows = RowWriter(self.spill / "chunks.npy", dim)
            self._paper_rows = RowWriter(self.spill / "papers.npy", dim)
            self._texts = open(self.spill / "texts", "wb")  # appended to until close()

    def add_chunks(self, ids: list[str], vectors: np.ndarray, texts: list[str | None], owners: list[str]) -> None:
        self.chunks += len(ids)
        if self.gave_up:
            return
        if self.chunks > self.max_chunks:
            self._give_up()
            return
        self._open(int(vectors.shape[1]))
        assert self._chunk_rows is not None and self._texts is not None
        self._chunk_rows.add(_unit(vectors))
        for t in texts:
            self._text_ends.append(self._text_ends[-1] + self._texts.write((t or "").encode("utf-8", "surrogatepass")))
        self._chunk_ids += ids
        self._owners += owners

    def add_papers(self, ids: list[str], vectors: np.ndarray) -> None:
        if self.gave_up or not ids:
            return
        self._open(int(vectors.shape[1]))
        assert self._paper_rows is not None
        self._paper_rows.add(_unit(vectors))
        self._paper_ids += ids

    def _give_up(self) -> None:
        self.gave_up = True
        self._close_spill()
        shutil.rmtree(self.folder, ignore_errors=True)
        self._chunk_ids, self._owners, self._paper_ids, self._text_ends = [], [], [], [0]

    def _close_spill(self) -> None:
        for w in (self._chunk_rows, self._paper_rows):
            if w is not None:
                w.close()
        if self._texts is not None:
            self._texts.close()

    def close(self, dim: int = 1, catalog_order: Sequence[str] | None = None) -> bool:
        """Writes the files (`dim` for an index with no vectors at all); False when it gave up. `catalog_order`:
        the generation's paper ids in catalog order, for the map from catalog positions (a filter's) to papers."""
        if self.gave_up:
            return False
        self._open(dim)
        self._close_spill()
        assert self._chunk_rows is not None and self._paper_rows is not None
        paper_ids = sorted(set(self._owners))
        pos = {pid: i for i, pid in enumerate(paper_ids)}
        owner = np.array([pos[o] for o in self._owners], dtype=np.int64)
        order = np.argsort(owner, kind="stable")  # rows grouped by paper: one slice per paper
        save_rows(self.folder / "chunks.npy", load_array(self._chunk_rows.path), order)
        save_array(self.folder / "owner.npy", owner[order])
        StringTable.write(self.folder / "chunk_ids", (self._chunk_ids[i] for i in order.tolist()))
        size = (self.spill / "texts").stat().st_size
        blob = np.memmap(self.spill / "texts", dtype=np.uint8, mode="r") if size else np.zeros(0, dtype=np.uint8)
        spilled = StringTable(blob, np.array(self._text_ends, dtype=np.int64))
        StringTable.write(self.folder / "texts", released((spilled[i] for i in order.tolist()), blob))
        save_rows(self.folder / "papers.npy", load_array(self._paper_rows.path), np.arange(self._paper_rows.rows))
        write_int8(self.folder, load_array(self.folder / "papers.npy"))
        del blob, spilled
        shutil.rmtree(self.spill, ignore_errors=True)
        if catalog_order is not None:
            at = np.fromiter((pos.get(pid, -1) for pid in catalog_order), dtype=np.int64, count=len(catalog_order))
            save_array(self.folder / CATALOG_POS, at)
        meta = {"paper_ids": paper_ids, "paper_vector_ids": self._paper_ids}
        (self.folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")  # last: its presence means complete
        return True


CHROMA_PAGE = 5000  # records per Chroma read: one read of ~30k+ records fails inside Chroma (see chroma_pages)


def chroma_pages(collection: Any, include: list[str], page: int | None = None) -> Iterator[dict[str, list[Any]]]:
    """Every record of a Chroma collection, a page at a time: one read of a large collection fails inside Chroma
    ("too many SQL variables", measured at ~30k-40k records), and one page is all a caller holds."""
    size = page or CHROMA_PAGE
    offset = 0
    while True:
        got = collection.get(include=include, limit=size, offset=offset)
        ids = list(got["ids"])
        if ids:
            yield {"ids": ids, **{k: list(got[k]) if got.get(k) is not None else [] for k in include}}
        offset += len(ids)
        if len(ids) < size:
            return


def _get_all(collection: Any, include: list[str]) -> dict[str, Any]:
    """Every record of a Chroma collection, read in pages (`chroma_pages`)."""
    out: dict[str, list[Any]] = {"ids": [], **{k: [] for k in include}}
    for got in chroma_pages(collection, include):
        for k, v in got.items():
            out[k] += v
    return out


def top_indices(scores: np.ndarray, keep: np.ndarray | None, n: int) -> list[int]:
    """Indices of the n highest scores (among those kept), highest first; ties in index order."""
    if keep is not None:
        scores = np.where(keep, scores, -np.inf)
    n = min(n, len(scores) if keep is None else int(keep.sum()))
    if n <= 0:
        return []
    part = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    return part[np.lexsort((part, -scores[part]))].tolist()


def _unit(rows: Any) -> np.ndarray:
    m = np.asarray(rows if rows is not None and len(rows) else np.zeros((0, 1)), dtype=np.float32)
    if m.ndim != 2 or not len(m):
        return np.zeros((0, 1), dtype=np.float32)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)
