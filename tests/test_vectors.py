"""VectorCache against a brute-force reference: the per-question work touches only the best papers, the answers
for every other paper are still exact when fusion asks for them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.arrays import _mapping, load_array, save_rows
from rag.vectors import DenseWriter, VectorCache


class Stored:
    """What a Chroma collection's .get(include=...) returns: ids, embeddings, metadatas, documents."""

    def __init__(self, ids: list[str], vectors: np.ndarray, owners: list[str] | None = None):
        self.data = {
            "ids": ids,
            "embeddings": vectors,
            "metadatas": [{"paper_id": o} for o in owners] if owners is not None else None,
            "documents": [f"text of {i}" for i in ids],
        }

    def get(self, include: list[str], limit: int, offset: int) -> dict[str, Any]:
        """One page, as Chroma pages (the fixture's ~7,500 chunks take two pages)."""
        return {k: (v[offset : offset + limit] if v is not None else None) for k, v in self.data.items()}


@pytest.fixture(scope="module")
def corpus() -> tuple[VectorCache, np.ndarray, list[str], np.ndarray, list[str]]:
    rng = np.random.default_rng(7)
    papers = [f"p{i:05d}" for i in range(3000)]
    owners = [p for p in papers for _ in range(int(rng.integers(1, 5)))]
    rng.shuffle(owners)  # chunks arrive in any order
    chunk_ids = [f"{o}#{n}" for n, o in enumerate(owners)]
    chunks = rng.normal(size=(len(owners), 32)).astype(np.float32)
    paper_vectors = rng.normal(size=(len(papers), 32)).astype(np.float32)
    cache = VectorCache.from_collections(Stored(chunk_ids, chunks, owners), Stored(papers, paper_vectors), top=50)
    unit = chunks / np.linalg.norm(chunks, axis=1, keepdims=True)
    return cache, unit, owners, paper_vectors / np.linalg.norm(paper_vectors, axis=1, keepdims=True), papers


def reference(unit: np.ndarray, owners: list[str], q: np.ndarray) -> dict[str, list[tuple[str, float]]]:
    sims = unit @ q
    out: dict[str, list[tuple[str, float]]] = {}
    for j in np.argsort(-sims, kind="stable"):
        out.setdefault(owners[j], []).append((f"{owners[j]}#{j}", float(sims[j])))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_best_papers_and_any_other_paper_match_brute_force(corpus: Any, seed: int) -> None:
    cache, unit, owners, _, _ = corpus
    q = np.random.default_rng(seed).normal(size=32).astype(np.float32)
    q /= np.linalg.norm(q)
    want = reference(unit, owners, q)
    got = cache.chunks_by_paper(q.tolist(), None)
    best_first = sorted(want, key=lambda p: -want[p][0][1])
    assert list(got) == best_first[:50]  # only the best are materialised, in order
    for pid in [*best_first[:3], *best_first[-3:], best_first[1500]]:  # top, bottom, middle: all exact on lookup
        assert pid in got
        assert [c for c, _, _ in got[pid]] == [c for c, _ in want[pid][:3]]
        assert got.get(pid)[0][2] == pytest.approx(want[pid][0][1], abs=1e-5)
    assert "p99999" not in got and got.get("p99999") is None


@pytest.mark.parametrize("allowed", [None, 1000])
@pytest.mark.parametrize("shuffled", [False, True])
def test_prefiltered_scoring_ranks_the_closest_papers_chunks_and_looks_up_any_other_exactly(
    corpus: Any, allowed: int | None, shuffled: bool
) -> None:
    """Above `prefilter_above_chunks`: only the chunks of the papers closest by paper vector are scored up front.
    `shuffled`: the paper vectors stored in another order than the chunks' papers (as an ingest writes them), plus
    a paper vector with no chunks that is the closest of all: never a candidate."""
    cache, unit, owners, paper_unit, papers = corpus
    q = np.random.default_rng(11).normal(size=32).astype(np.float32)
    q /= np.linalg.norm(q)
    order, matrix = list(cache.paper_order), cache.paper_matrix
    if shuffled:
        perm = np.random.default_rng(3).permutation(len(order))
        order, matrix = [order[i] for i in perm] + ["p-no-chunks"], np.vstack([matrix[perm], q[None, :]])
    pre = VectorCache(cache.chunk_ids, cache.texts, cache.owner, cache.matrix, cache.paper_ids, order, matrix,
                      top=50, prefilter=300)  # fmt: skip
    keep = set(papers[:allowed]) if allowed else None
    want = reference(unit, owners, q)
    close = [papers[i] for i in np.argsort(-(paper_unit @ q), kind="stable") if keep is None or papers[i] in keep]
    candidates = set(close[:300])
    got = pre.chunks_by_paper(q.tolist(), keep)
    assert list(got) == sorted(candidates, key=lambda p: -want[p][0][1])[:50]
    outside = close[300]  # not prefiltered, so not scored up front: still exact when fusion asks for it
    assert outside not in list(got)
    for pid in (next(iter(got)), outside):
        assert [c for c, _, _ in got[pid]] == [c for c, _ in want[pid][:3]]
        assert got[pid][0][2] == pytest.approx(want[pid][0][1], abs=1e-5)
    if keep is not None:
        assert got.get(papers[-1]) is None  # not allowed


def test_allowed_papers_only(corpus: Any) -> None:
    cache, unit, owners, _, papers = corpus
    q = unit[0]
    allowed = set(papers[100:130])
    got = cache.chunks_by_paper(q.tolist(), allowed)
    want = reference(unit, owners, q)
    assert list(got) == sorted((p for p in want if p in allowed), key=lambda p: -want[p][0][1])
    outside = next(p for p in papers if p not in allowed)
    assert outside not in got and got.get(outside) is None


def test_paper_vectors_ranked_and_looked_up(corpus: Any) -> None:
    cache, _, _, paper_unit, papers = corpus
    q = paper_unit[42]
    sims = paper_unit @ q
    got = cache.paper_sims(q.tolist())
    assert next(iter(got)) == "p00042" and len(got) == 50
    assert list(got) == [papers[i] for i in np.argsort(-sims, kind="stable")[:50]]
    low = papers[int(np.argmin(sims))]
    assert got[low] == pytest.approx(float(sims.min()), abs=1e-5)
    only = cache.paper_sims(q.tolist(), {"p00001", "p00002"})
    assert sorted(only) == ["p00001", "p00002"] and "p00042" not in only


def test_empty_index() -> None:
    empty = VectorCache.from_collections(Stored([], np.zeros((0, 4)), []), Stored([], np.zeros((0, 4))))
    assert dict(empty.chunks_by_paper([0.0] * 4, None)) == {} and dict(empty.paper_sims([0.0] * 4)) == {}


def test_written_dense_files_open_memory_mapped_and_score_the_same(corpus: Any, tmp_path: Path) -> None:
    """What an ingest writes (rows as stored in Chroma, any order) opens without Chroma and answers identically."""
    cache, unit, owners, paper_unit, papers = corpus
    writer = DenseWriter(tmp_path / "dense", max_chunks=len(owners))
    writer.add_chunks([f"{o}#{n}" for n, o in enumerate(owners)], unit, [f"text of {o}#{n}" for n, o in
                      enumerate(owners)], list(owners))  # fmt: skip
    writer.add_papers(list(papers), paper_unit)
    catalog_order = [*reversed(papers), "p-not-indexed"]
    assert writer.close(catalog_order=catalog_order)
    opened = VectorCache.open(tmp_path / "dense", top=50)
    assert opened is not None and _mapping(opened.matrix) is not None  # read from the file, not loaded
    # The map from catalog positions the ingest wrote is the one a filter's mask would otherwise be built from.
    ords = np.arange(0, len(catalog_order), 5)
    assert np.array_equal(opened.keep_at(ords, lambda: []), cache.keep_at(ords, lambda: catalog_order))
    q = unit[5].tolist()
    a, b = cache.chunks_by_paper(q, None), opened.chunks_by_paper(q, None)
    # (the fixture's rows were normalised once more here: scores agree to float32 rounding)
    assert [(p, [c for c, _, _ in cs]) for p, cs in a.items()] == [(p, [c for c, _, _ in cs]) for p, cs in b.items()]
    assert [s for cs in b.values() for _, _, s in cs] == pytest.approx(
        [s for cs in a.values() for _, _, s in cs], abs=1e-6
    )
    # Texts are read for the papers answered only: `with_texts`.
    assert b["p00007"][0][1] == "" and b["p00007"][0][0] == a["p00007"][0][0]
    (cid, text, score), *_ = opened.with_texts("p00007", b["p00007"])
    assert text == "text of " + cid and cid == b["p00007"][0][0] and score == b["p00007"][0][2]
    assert opened.with_texts("p-unknown", []) == []
    pa, pb = cache.paper_sims(q), opened.paper_sims(q)
    assert list(pa) == list(pb) and list(pb.values()) == pytest.approx(list(pa.values()), abs=1e-6)
    assert VectorCache.open(tmp_path / "nothing") is None


def _resident_kb(path: Path) -> int:
    """Resident memory of this process's mappings of `path` (kB), from /proc/self/smaps."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if "-" in line.split(" ", 1)[0]:  # a mapping's header line: "start-end perms offset dev inode path"
            inside = line.endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def test_gathering_rows_from_a_memory_map_leaves_none_of_it_resident(tmp_path: Path) -> None:
    """save_rows reads the rows through a memory map (the ingest's spill of every chunk vector) and releases each
    block's pages: at the end the map holds no memory of this process, though every row was read (and written)."""
    rows = np.random.default_rng(0).standard_normal((20_000, 384)).astype(np.float32)  # ~30 MB
    np.save(tmp_path / "spill.npy", rows)
    mapped = load_array(tmp_path / "spill.npy")
    order = np.random.default_rng(1).permutation(len(rows))
    np.asarray(mapped[:1000]).sum()  # a read leaves pages resident...
    assert _resident_kb(tmp_path / "spill.npy") > 1000
    save_rows(tmp_path / "out.npy", mapped, order, block=4096)
    assert _resident_kb(tmp_path / "spill.npy") == 0  # ...save_rows's reads do not
    assert np.array_equal(np.load(tmp_path / "out.npy"), rows[order])


def test_a_filter_given_as_catalog_positions_allows_what_the_same_ids_allow(corpus: Any) -> None:
    """`keep_at`: the mask from a filter's catalog positions (the catalog's own order differs from the cache's)
    is the mask of the same paper ids, and ranks the same papers."""
    cache, _, _, _, papers = corpus
    catalog_order = [*reversed(papers), "p-not-indexed"]  # a catalog paper with no chunks
    ords = list(range(0, len(catalog_order), 7))
    ids = {catalog_order[o] for o in ords}
    keep = cache.keep_at(ords, lambda: catalog_order)
    assert np.array_equal(keep, cache._mask(ids, cache._pos, len(cache.paper_ids)))
    q = cache.paper_matrix[3].tolist()
    assert list(cache.chunks_by_paper(q, keep)) == list(cache.chunks_by_paper(q, ids))
    assert not cache.keep_at([], lambda: catalog_order).any()


def test_page_advice_reaches_the_map_behind_a_view_and_skips_arrays_in_memory(tmp_path: Path) -> None:
    """release / read_at_random act on the memory map a file-backed array (or a view of it) reads from."""
    import mmap

    from rag.arrays import _mapping, read_at_random, release, save_array

    save_array(tmp_path / "a.npy", np.arange(4096, dtype=np.float32).reshape(64, 64))
    mapped = load_array(tmp_path / "a.npy")
    assert isinstance(_mapping(mapped[5:10]), mmap.mmap) and _mapping(np.zeros(3)) is None
    view = read_at_random(mapped[3:])
    release(view)  # pages dropped: reading again gives the same values from the file
    assert float(view[0, 0]) == 3 * 64 and read_at_random(np.zeros(2)).shape == (2,)
