"""The int8 copy of the paper vectors finds exactly the papers every float32 cosine finds, reading few rows."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from rag.arrays import load_array
from rag.quantized import CODES, INFO, MODEL, Int8Rows, write_int8
from rag.vectors import DenseWriter, VectorCache, top_indices


def clustered(rows: int, dim: int, seed: int) -> np.ndarray:
    """Unit rows in tight clusters, as topics make real abstracts: many near-equal cosines at the top, where an
    estimate has the most rows it cannot rule out."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    x = centres[rng.integers(0, 40, rows)] + 0.35 * rng.normal(size=(rows, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, Int8Rows]:
    folder = tmp_path_factory.mktemp("int8")
    matrix = clustered(20_000, 384, 0)
    write_int8(folder, matrix)
    rows = Int8Rows.open(folder, len(matrix))
    assert rows is not None and isinstance(rows.codes, np.memmap)
    return matrix, rows


def test_the_serialised_model_is_one_integer_matmul_node() -> None:
    onnx = pytest.importorskip("onnx")  # a dependency of the embedder's export: always installed
    h, t = onnx.helper, onnx.TensorProto
    graph = h.make_graph(
        [h.make_node("MatMulInteger", ["q", "codes"], ["scores"])], "int8_scores",
        [h.make_tensor_value_info("q", t.UINT8, [1, "dim"]),
         h.make_tensor_value_info("codes", t.INT8, ["dim", "rows"])],
        [h.make_tensor_value_info("scores", t.INT32, [1, "rows"])],
    )  # fmt: skip
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)], producer_name="paperchat")
    model.ir_version = 8
    assert model.SerializeToString() == MODEL


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_estimate_is_within_its_bound(stored: tuple[np.ndarray, Int8Rows], seed: int) -> None:
    matrix, rows = stored
    q = clustered(1, 384, seed)[0]
    one = rows.scores(q, matrix)
    error = np.abs(one.estimate - matrix @ q)
    assert error.max() <= one.bound
    assert error.max() > 0  # an estimate, not the cosine


@pytest.mark.parametrize("n", [1, 100, 2000])
@pytest.mark.parametrize("kept", ["all", "30%", "50 rows", "none"])
def test_the_top_rows_are_those_of_every_float32_cosine(stored: tuple[np.ndarray, Int8Rows], n: int, kept: str) -> None:
    matrix, rows = stored
    rng = np.random.default_rng(n)
    keep = {"all": None, "30%": rng.random(len(matrix)) < 0.3, "none": np.zeros(len(matrix), dtype=bool)}.get(kept)
    if kept == "50 rows":
        keep = np.zeros(len(matrix), dtype=bool)
        keep[rng.choice(len(matrix), 50, replace=False)] = True
    for q in (matrix[17], clustered(1, 384, 9)[0]):  # a stored row (cosine 1), and a new question
        sims = matrix @ q
        want = top_indices(sims, keep, n)
        one = rows.scores(q, matrix)
        got, cos = one.top(n, keep)
        assert got.tolist() == want
        assert cos == pytest.approx(sims[want], abs=1e-6)
        if kept == "all" and n == 100:  # what makes it fast: the float32 rows read are a small part
            assert len(one._rows) < len(matrix) // 4
        again, _ = one.top(n, keep)  # the cosines read are kept: the same answer from them
        assert again.tolist() == want


def test_an_absent_incomplete_or_other_copy_is_not_opened(tmp_path: Path) -> None:
    write_int8(tmp_path, clustered(100, 8, 0))
    assert Int8Rows.open(tmp_path, 100) is not None
    assert Int8Rows.open(tmp_path, 101) is None  # of another matrix
    (tmp_path / INFO).unlink()  # written last: without it the copy is incomplete
    assert Int8Rows.open(tmp_path, 100) is None
    assert Int8Rows.open(tmp_path / "elsewhere", 100) is None


class Positions:
    """A catalog's position -> paper id map, as the cache asks for it."""

    def __init__(self, ids: list[str]):
        self.ids = ids

    def ids_in_order(self) -> list[str]:
        return self.ids

    def id_map(self, ords: Iterable[int]) -> dict[int, str]:
        return {o: self.ids[o] for o in ords if 0 <= o < len(self.ids)}


def test_a_cache_ranking_with_the_int8_copy_answers_as_one_without(tmp_path: Path) -> None:
    """What an ingest writes: the dense/ folder holds the int8 copy; opened with and without it, every cosine that
    ranks is the same (the paper channel, closeness of a list, closest rows). The prefilter's papers, whose chunks are
    scored, are the best by int8 estimate: no float32 row read for the cut; their chunks' cosines are exact."""
    rng = np.random.default_rng(5)
    papers = [f"p{i:05d}" for i in range(3000)]
    owners = [p for p in papers for _ in range(int(rng.integers(1, 4)))]
    chunks = clustered(len(owners), 48, 1)
    writer = DenseWriter(tmp_path / "dense", max_chunks=len(owners))
    writer.add_chunks([f"{o}#{n}" for n, o in enumerate(owners)], chunks, ["t"] * len(owners), owners)
    with_vectors = [*papers, "p-vector-only"]  # a paper with a title + abstract vector and no chunk
    writer.add_papers(with_vectors, clustered(len(with_vectors), 48, 2))
    assert writer.close()
    assert (tmp_path / "dense" / CODES).is_file()
    assert load_array(tmp_path / "dense" / CODES).shape == (48, len(with_vectors))  # stored transposed
    plain = VectorCache.open(tmp_path / "dense", top=50, prefilter=300)
    int8 = VectorCache.open(tmp_path / "dense", top=50, prefilter=300, int8_above=0)
    assert plain is not None and int8 is not None and plain.int8 is None and int8.int8 is not None
    allowed = np.zeros(len(plain.paper_ids), dtype=bool)
    allowed[::3] = True
    catalog = Positions([*with_vectors, "p-without-vectors"])  # catalog position i: with_vectors[i]
    every = VectorCache.open(tmp_path / "dense", top=50, prefilter=0)  # every chunk scored
    assert every is not None
    nothing = np.zeros(len(plain.paper_ids), dtype=bool)  # a filter no paper passes ("papers from 2031")
    q0 = clustered(1, 48, 9)[0].tolist()
    assert [list(c.chunks_by_paper(q0, nothing).items()) for c in (plain, int8, every)] == [[], [], []]
    for seed in range(4):
        q = clustered(1, 48, 10 + seed)[0].tolist()
        for keep in (None, allowed):
            exact = every.chunks_by_paper(q, keep)
            got = int8.chunks_by_paper(q, keep)
            items = list(got.items())
            assert len(items) == 50
            for pid, chunks in items:  # each paper's best chunks, with their float32 cosines
                want = exact.get(pid)
                assert want is not None and [c for c, _, _ in chunks] == [c for c, _, _ in want]
                assert [x for _, _, x in chunks] == pytest.approx([x for _, _, x in want], abs=1e-6)
                assert keep is None or keep[int8.position(pid)]
            # The papers: the best by chunk among the prefilter's, the 300 best paper rows by estimate.
            cut = int8._int8_pass(np.asarray(q, dtype=np.float32)).estimated_top(300, int8._rows_with_chunks)
            if keep is None:
                cand = [int8.paper_order[r] for r in cut.tolist()]
                best = {pid: exact.get(pid)[0][2] for pid in cand}  # type: ignore[index]
                assert [pid for pid, _ in items] == sorted(cand, key=lambda pid: -best[pid])[:50]
        pa, pb = plain.paper_sims(q), int8.paper_sims(q)
        assert list(pa) == list(pb) and list(pb.values()) == pytest.approx(list(pa.values()), abs=1e-6)
        assert pb["p02999"] == pytest.approx(pa["p02999"], abs=1e-6)  # any other paper, on lookup
        # Catalog positions: 500 papers, the one without chunks, the one without vectors.
        some = [int(i) for i in rng.choice(len(papers), 500, replace=False)] + [len(papers), len(papers) + 1]
        cosine = {o: float(plain.paper_matrix[plain.paper_index[with_vectors[o]]] @ np.asarray(q, dtype=np.float32))
                  for o in some[:-1]}  # fmt: skip
        closest = sorted(cosine, key=lambda o: -cosine[o])
        assert plain.closest_at(q, some, 20, catalog) == int8.closest_at(q, some, 20, catalog) == closest[:20]
        assert int8.closest_at(q, some, 600, catalog) == [*closest, len(papers) + 1]  # without a vector: last
        assert int8.closest_rows(q, 7).tolist() == plain.closest_rows(q, 7).tolist()


def test_writing_the_copy_leaves_none_of_the_matrix_resident(tmp_path: Path) -> None:
    """At 1M papers the float32 matrix is 1.5 GB: read through its memory map and kept, it counted in the ingest's
    peak memory (6.2 GB, over the 6 GB target)."""
    from rag.arrays import save_array
    from tests.test_vectors import _resident_kb

    save_array(tmp_path / "papers.npy", clustered(40_000, 384, 3))  # 61 MB
    matrix = load_array(tmp_path / "papers.npy")
    write_int8(tmp_path, matrix)
    assert _resident_kb(tmp_path / "papers.npy") < 4_096, "the float32 rows read stayed in this process"
    assert Int8Rows.open(tmp_path, 40_000) is not None
