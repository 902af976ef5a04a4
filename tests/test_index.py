"""Ingest into a real Chroma with real embeddings: incremental, identity-checked, with paper and sentence vectors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.arrays import StringTable
from rag.embed import Embedder
from rag.engine import Engine
from rag.errors import UserError
from rag.index import Index, SentenceStore, answer_sentences, paper_document, paper_text
from rag.text import searchable
from rag.tokens import count_tokens
from tests.conftest import make_settings


def _chunk_papers(engine: Engine) -> set[str]:
    return {m["paper_id"] for m in engine.index.collection().get(include=["metadatas"])["metadatas"]}


def test_incremental_ingest(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    engine = Engine(make_settings(tmp_path / "data", corpus_dir=small_corpus), embedder=embedder)
    first = engine.ingest(progress=False)
    assert first.papers == 16 and first.papers_updated == 16 and first.chunks_embedded > 18
    assert first.papers_embedded == 16 and first.sentences_embedded > 16 * 3
    assert set(first.stages) == {"parse", "chunk", "embed", "store"}
    assert engine.index.collection().count() == first.chunks_embedded
    assert engine.index.papers_collection().count() == 16
    kept_paper = engine.catalog.papers[0]
    kept_vector = engine.index.paper_vector(kept_paper.paper_id)
    kept_sentences = engine.index.sentence_vectors([kept_paper.paper_id])[kept_paper.paper_id]

    second = engine.ingest(progress=False)
    assert (second.chunks_embedded, second.papers_updated, second.papers_removed) == (0, 0, 0)
    assert second.unchanged and second.generation == first.generation

    # change one abstract, remove one paper: exactly those are touched
    page = next(small_corpus.glob("002_*.txt"))
    lines = page.read_text().splitlines()
    lines[0] = lines[0].replace("often lack meaningful", "frequently lack meaningful")
    page.write_text("\n".join(lines) + "\n")
    profile = next(small_corpus.glob("000_*.txt"))
    text = profile.read_text()
    cut = text.index("CVNov 16, 2020")
    profile.write_text(text[:cut])
    third = engine.ingest(progress=False)
    assert third.papers == 15
    assert third.papers_updated == 1 and third.papers_removed == 1
    assert third.papers_embedded == 1 and 0 < third.chunks_embedded <= 3
    assert third.generation != first.generation
    assert len(_chunk_papers(engine)) == 15 and engine.index.papers_collection().count() == 15
    assert engine.search("video stabilization log-homography", k=3).hits[0].title != (
        "Cinematic-L1 Video Stabilization with a Log-Homography Model"
    )
    # unchanged papers were copied, not recomputed differently
    assert engine.index.paper_vector(kept_paper.paper_id) == pytest.approx(kept_vector, abs=1e-6)
    again = engine.index.sentence_vectors([kept_paper.paper_id])[kept_paper.paper_id]
    assert again[0] == kept_sentences[0] and np.allclose(again[1], kept_sentences[1])
    changed = next(p for p in engine.catalog.papers if "frequently lack meaningful" in p.abstract)
    texts, _ = engine.index.sentence_vectors([changed.paper_id])[changed.paper_id]
    assert any("frequently lack meaningful" in s for s in texts)


def test_paper_vectors_and_query_papers(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    engine = Engine(make_settings(tmp_path / "data", corpus_dir=small_corpus), embedder=embedder)
    engine.ingest(progress=False)
    papers = engine.catalog.papers
    target = next(p for p in papers if p.title == "Classifier-Free Guidance is a Predictor-Corrector")
    vec = engine.index.paper_vector(target.paper_id)
    assert vec is not None and len(vec) == 384
    assert np.dot(vec, embedder.embed([paper_text(target)])[0]) > 0.999  # title + abstract, as embedded
    assert abs(np.linalg.norm(vec) - 1.0) < 1e-3
    assert engine.index.paper_vector("p-no-such-paper") is None

    ranked = engine.index.query_papers(vec, 5)
    assert ranked[0][0] == target.paper_id and ranked[0][1] > 0.999
    assert len(ranked) == 5 and [s for _, s in ranked] == sorted((s for _, s in ranked), reverse=True)
    others = [p.paper_id for p in papers if p.paper_id != target.paper_id][:3]
    scoped = engine.index.query_papers(vec, 10, paper_ids=others)
    assert {pid for pid, _ in scoped} == set(others)
    assert engine.index.query_papers(vec, 5, paper_ids=[]) == []
    q = embedder.embed_query("classifier-free guidance as a predictor-corrector sampler")
    assert engine.index.query_papers(q, 1)[0][0] == target.paper_id


def test_sentence_vectors_are_the_answer_candidates(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    engine = Engine(make_settings(tmp_path / "data", corpus_dir=small_corpus), embedder=embedder)
    engine.ingest(progress=False)
    papers = engine.catalog.papers[:4]
    got = engine.index.sentence_vectors([p.paper_id for p in papers] + ["p-unknown"])
    assert set(got) == {p.paper_id for p in papers}
    for p in papers:
        texts, vecs = got[p.paper_id]
        assert texts == answer_sentences(p.abstract) and texts
        assert all(30 <= len(s) <= 600 for s in texts)
        assert vecs.dtype == np.float32 and vecs.shape == (len(texts), 384)
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
        fresh = np.array(embedder.embed([searchable(s) for s in texts]), dtype=np.float32)
        assert np.allclose((vecs * fresh).sum(axis=1), 1.0, atol=1e-4)  # what answering would have embedded


def test_index_identity_mismatch_fails_loudly_then_rebuilds(tmp_path: Path, small_corpus: Path, embedder) -> None:
    data = tmp_path / "data"
    first = Engine(make_settings(data, corpus_dir=small_corpus), embedder=embedder)
    first.ingest(progress=False)
    meta = first.index.read_meta()
    assert meta is not None
    assert meta["identity"]["embedding_model"] == "all-MiniLM-L6-v2" and meta["identity"]["chunk_size"] > 0
    assert meta["identity"]["schema"] == 2

    other = Engine(make_settings(data, corpus_dir=small_corpus, chunking={"chunk_size": 96}), embedder=embedder)
    with pytest.raises(UserError, match="built with"):
        other.search("diffusion")
    report = other.ingest(progress=False)
    assert report.rebuilt and report.papers_updated == 16
    assert other.search("diffusion guidance", k=1).hits
    names = sorted(c.name for c in other.index.client().list_collections())
    assert names == sorted(other.index.read_meta()["collections"].values())  # old vectors gone, never mixed


def test_legacy_single_state_index_is_reported_then_replaced(tmp_path: Path, small_corpus: Path, embedder) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "index.json").write_text(json.dumps({"identity": {"schema": 1}, "collection": "papers_old"}))
    (data / "catalog.json").write_text("[]")
    engine = Engine(make_settings(data, corpus_dir=small_corpus), embedder=embedder)
    with pytest.raises(UserError, match="older version"):
        engine.search("diffusion")
    engine.ingest(progress=False)
    assert not (data / "index.json").exists() and not (data / "catalog.json").exists()
    assert engine.search("diffusion guidance", k=1).hits


def test_chunks_respect_token_budget_and_carry_the_title(built_engine: Engine) -> None:
    col = built_engine.index.collection()
    got = col.get(limit=300, include=["documents", "metadatas"])
    size = built_engine.settings.chunking.chunk_size
    assert all(count_tokens(doc) <= size for doc in got["documents"])
    assert all(m["title"] for m in got["metadatas"])
    paper = built_engine.catalog.papers[0]
    doc = paper_document(paper)
    from llama_index.core.schema import MetadataMode

    assert paper.title.split()[0] in doc.get_content(MetadataMode.EMBED)


def test_missing_index_says_what_to_run(tmp_path: Path, embedder) -> None:
    engine = Engine(make_settings(tmp_path / "empty"), embedder=embedder)
    with pytest.raises(UserError, match="rag ingest"):
        engine.ask("anything")


def test_index_key_changes_with_identity(tmp_path: Path) -> None:
    a = make_settings(tmp_path)
    b = make_settings(tmp_path, embedding={"model": "other"})
    assert a.index_key() != b.index_key()
    assert Index.__name__ == "Index"


def test_sentences_are_copied_by_reads_of_the_kept_papers_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A re-ingest copies the kept papers' sentences from the previous generation by file reads of their ranges:
    no text is read through the table's memory map (or decoded for a paper not kept), and the copy reads back as
    the original. A generation of an older version (texts listed in sentences.json) is copied the same."""
    rng = np.random.default_rng(0)
    old = tmp_path / "old"
    old.mkdir()
    writer = SentenceStore.writer(old)
    papers = {"a": ["Alpha one é.", "Alpha two."], "b": [], "c": ["Gamma ✓ one.", "Gamma two.", "Gamma three."]}
    for pid, texts in papers.items():
        writer.add(pid, texts, rng.standard_normal((len(texts), 4)).astype(np.float32))
    writer.close(4)
    expected = SentenceStore(old).get(["c", "b", "a"])

    def no_mapped_reads(self: StringTable, i: int) -> str:
        raise AssertionError("read through the memory map")

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    shutil.copy(old / "sentences.npy", legacy / "sentences.npy")
    data = json.loads((old / "sentences.json").read_text())
    data["texts"] = [t for texts in papers.values() for t in texts]
    (legacy / "sentences.json").write_text(json.dumps(data))
    decoded: list[int] = []  # sentences read from the text table's file, per read
    read = StringTable.read

    def counted_read(self: StringTable, fd: int, a: int, b: int) -> list[str]:
        decoded.append(b - a)
        return read(self, fd, a, b)

    for source in (old, legacy):
        new = tmp_path / f"new-{source.name}"
        new.mkdir()
        decoded.clear()
        with monkeypatch.context() as m:
            m.setattr(StringTable, "__getitem__", no_mapped_reads)
            m.setattr(StringTable, "read", counted_read)
            out = SentenceStore.writer(new)
            SentenceStore(source).copy(["c", "a"], out)
            out.close(4)
        assert sum(decoded) == (5 if source is old else 0)  # the kept papers' sentences, and nothing else
        got = SentenceStore(new).get(["c", "b", "a"])
        assert list(got) == ["c", "a"]
        for pid in ("c", "a"):
            assert got[pid][0] == expected[pid][0] == papers[pid]
            assert np.array_equal(got[pid][1], expected[pid][1])
