"""The streamed store stage (rag/index.py Ingest._store): unchanged papers copied from the previous generation a
Chroma page at a time, changed papers chunked, embedded and stored in batches of `ingest.batch_papers`.

Real Chroma, real chunking, real catalog; the embedder is a small deterministic bag-of-words stand-in (no model),
so a corpus large enough to break a one-read copy (~30k+ records: "too many SQL variables") ingests in seconds."""

from __future__ import annotations

import json
import random
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rag.index
import rag.keywords
import rag.vectors
from rag.engine import Engine
from rag.index import paper_text
from rag.settings import Settings
from rag.vectors import DENSE_FOLDER, VectorCache
from tests.conftest import make_settings

WORDS = (
    "model data learning training network graph language vision policy reward sample noise diffusion token "
    "attention layer loss gradient kernel sparse dense robust scalable benchmark dataset retrieval memory signal"
).split()


class HashEmbedder:
    """Deterministic and model-free: a text's vector is the normalised sum of fixed random vectors of its words,
    so texts sharing words are close and the same text always gets the same vector. Words with a digit (the
    papers' markers) weigh more, as rare terms do in a real model: a marker finds its paper among 34k chunks."""

    name = "test-hash-bag-of-words"
    DIM = 64

    def __init__(self, fail_on_call: int | None = None):
        self.table = np.random.default_rng(0).standard_normal((8192, self.DIM)).astype(np.float32)
        self.calls = 0
        self.texts = 0
        self.fail_on_call = fail_on_call

    def _vectors(self, texts: list[str]) -> np.ndarray:
        out = np.empty((len(texts), self.DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            words = re.findall(r"\w+", t.lower())
            rows = [zlib.crc32(w.encode()) % len(self.table) for w in words]
            weights = np.array([4.0 if re.search(r"\d", w) else 1.0 for w in words], dtype=np.float32)
            v = weights @ self.table[rows] if rows else np.ones(self.DIM, dtype=np.float32)
            out[i] = v / np.linalg.norm(v)
        return out

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.fail_on_call is not None and self.calls >= self.fail_on_call:
            raise RuntimeError("embedding service went away")  # an ingest interrupted midway
        self.texts += len(texts)
        return self._vectors(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return [float(x) for x in self._vectors([text])[0]]


def marker(i: int, version: int = 0) -> str:
    """A word only paper i (in this version) uses, so a search for it has one right answer."""
    return f"zq{i}v{version}x"


SHARED = "Code and data are released for others to build on."  # a sentence every paper has


def abstract(rng: random.Random, i: int, sentences: int, version: int = 0) -> str:
    out = [f"We study {marker(i, version)} with {' '.join(rng.sample(WORDS, 5))}."]
    out += [" ".join(rng.sample(WORDS, 8)).capitalize() + "." for _ in range(sentences - 2)]
    return " ".join([*out, SHARED])


def write_snapshot(path: Path, n: int, sentences: int, changed: dict[int, int] | None = None) -> None:
    """n papers in the arXiv metadata snapshot format (what `rag ingest --corpus snapshot.jsonl` reads); papers
    listed in `changed` get that version of their abstract (same id: an update of the paper)."""
    changed = changed or {}
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            rng = random.Random(i)  # the same paper text on every write unless its version changes
            rec = {
                "id": f"2401.{i:05d}",
                "authors": f"Ann Lee, Bo Chen{i % 50}",
                "title": f"Paper {i} on {' '.join(rng.sample(WORDS, 3))}",
                "categories": "cs.LG",
                "abstract": abstract(rng, i, sentences, changed.get(i, 0)),
                "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 10:00:00 GMT"}],
                "update_date": "2024-01-01",
            }
            f.write(json.dumps(rec) + "\n")


def settings_for(data: Path, corpus: Path, **ingest: Any) -> Settings:
    return make_settings(data, corpus_dir=corpus, ingest=ingest, chunking={"chunk_size": 80, "chunk_overlap": 0})


@pytest.fixture()
def pages(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(collection name, records) of every page the ingest reads from Chroma."""
    seen: list[tuple[str, int]] = []
    real = rag.index.chroma_pages

    def spy(collection: Any, include: list[str], page: int | None = None) -> Iterator[dict[str, list[Any]]]:
        for got in real(collection, include, page):
            seen.append((collection.name, len(got["ids"])))
            yield got

    monkeypatch.setattr(rag.index, "chroma_pages", spy)
    return seen


def chunk_records(engine: Engine) -> dict[str, tuple[str, list[float], dict[str, Any]]]:
    got = rag.vectors._get_all(engine.index.collection(), ["embeddings", "documents", "metadatas"])
    return {
        cid: (doc, [round(float(x), 6) for x in emb], meta)
        for cid, emb, doc, meta in zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"], strict=True)
    }


def top_hit(engine: Engine, query: str) -> str | None:
    """arXiv id of the best hit."""
    hits = engine.search(query, k=3).hits
    return hits[0].arxiv_id if hits else None


def arxiv(i: int) -> str:
    return f"2401.{i:05d}"


def test_reingest_copies_the_unchanged_papers_page_by_page(
    tmp_path: Path, pages: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rag.vectors, "CHROMA_PAGE", 97)
    corpus = tmp_path / "snapshot.jsonl"
    write_snapshot(corpus, 200, sentences=9)
    embedder = HashEmbedder()
    engine = Engine(settings_for(tmp_path / "data", corpus, batch_papers=128), embedder=embedder)
    first = engine.ingest(progress=False)
    total = engine.index.collection().count()
    assert first.papers_embedded == 200 and first.chunks_embedded == total > 400  # several chunks a paper
    assert not pages  # nothing to copy from
    kept = engine.catalog.papers[10]
    kept_vector = engine.index.paper_vector(kept.paper_id)
    kept_sentences = engine.index.sentence_vectors([kept.paper_id])[kept.paper_id]

    write_snapshot(corpus, 200, sentences=9, changed={5: 1, 150: 1, 199: 1})
    embedder.texts = 0
    second = engine.ingest(progress=False)
    assert (second.papers_updated, second.papers_embedded, second.papers_removed) == (3, 3, 0)
    assert 0 < second.chunks_embedded < 20 and embedder.texts < 100  # only the three changed papers embedded
    old_chunks = [n for name, n in pages if name.endswith("_c")]
    assert len(old_chunks) > 1 and max(old_chunks) <= 97 and sum(old_chunks) == total  # read in pages
    assert sum(n for name, n in pages if name.endswith("_p")) == 200
    assert engine.index.collection().count() == engine.index.read_meta()["chunks"] >= total - 20
    assert engine.index.papers_collection().count() == 200

    assert top_hit(engine, marker(150, 1)) == arxiv(150)  # a changed paper, found by its new text
    assert top_hit(engine, marker(42)) == arxiv(42)  # an unchanged one, copied
    assert top_hit(engine, marker(150, 0)) != arxiv(150)  # its old text is gone
    assert engine.index.paper_vector(kept.paper_id) == pytest.approx(kept_vector, abs=1e-6)
    texts, vecs = engine.index.sentence_vectors([kept.paper_id])[kept.paper_id]
    assert texts == kept_sentences[0] and np.allclose(vecs, kept_sentences[1])
    changed = next(p for p in engine.catalog.papers if p.arxiv_id == arxiv(150))
    assert engine.index.paper_vector(changed.paper_id) == pytest.approx(
        embedder.embed_query(paper_text(changed)), abs=1e-6
    )


def test_a_streamed_ingest_stores_what_one_batch_stores(tmp_path: Path) -> None:
    corpus = tmp_path / "snapshot.jsonl"
    write_snapshot(corpus, 60, sentences=7)
    e1, e7 = HashEmbedder(), HashEmbedder()
    one = Engine(settings_for(tmp_path / "one", corpus, batch_papers=1000), embedder=e1)
    many = Engine(settings_for(tmp_path / "many", corpus, batch_papers=7), embedder=e7)
    a, b = one.ingest(progress=False), many.ingest(progress=False)
    counts = ("papers", "chunks_embedded", "papers_embedded", "sentences_embedded", "vectors_resumed")
    assert [getattr(a, c) for c in counts] == [getattr(b, c) for c in counts]
    assert b.vectors_resumed == 0  # nothing was interrupted: what earlier batches embedded is not "resumed"...
    assert e7.texts == e1.texts - (60 - 7)  # ...but SHARED, embedded in the first batch, is journalled
    assert list(b.stages) == ["parse", "chunk", "embed", "store"] and all(s > 0 for s in b.stages.values())
    assert chunk_records(one) == chunk_records(many)
    ids = [p.paper_id for p in one.catalog.papers]
    for pid in ids[::7]:
        assert one.index.paper_vector(pid) == pytest.approx(many.index.paper_vector(pid), abs=1e-6)
        (ta, va), (tb, vb) = one.index.sentence_vectors([pid])[pid], many.index.sentence_vectors([pid])[pid]
        assert ta == tb and len(ta) == 7 and np.allclose(va, vb)
    meta_a, meta_b = one.index.read_meta(), many.index.read_meta()
    assert meta_a and meta_b and (meta_a["chunks"], meta_a["sentences"]) == (meta_b["chunks"], meta_b["sentences"])
    # The exact-scoring files (dense/) of both rank the same papers with the same scores.
    q = e1.embed_query(marker(33))
    ca, cb = (VectorCache.open(e.index.generation_dir / DENSE_FOLDER) for e in (one, many))
    assert ca is not None and cb is not None
    ra, rb = ca.chunks_by_paper(q, None), cb.chunks_by_paper(q, None)
    assert list(ra.items())[:5] == list(rb.items())[:5]
    assert next(iter(ra)) == one.catalog.by_arxiv_id(arxiv(33))[0].paper_id
    assert [h.paper_id for h in one.search(marker(33)).hits] == [h.paper_id for h in many.search(marker(33)).hits]
    assert not list((tmp_path / "many").rglob("*.tmp")) and not list((tmp_path / "many").rglob("spill"))


def test_an_interrupted_streamed_ingest_resumes_from_its_journal(tmp_path: Path) -> None:
    corpus = tmp_path / "snapshot.jsonl"
    write_snapshot(corpus, 40, sentences=6)
    settings = settings_for(tmp_path / "data", corpus, batch_papers=10)
    broken = HashEmbedder(fail_on_call=4)  # dies in the second batch of papers
    with pytest.raises(RuntimeError, match="went away"):
        Engine(settings, embedder=broken).ingest(progress=False)
    assert broken.texts > 0 and Engine(settings, embedder=HashEmbedder()).index.state_problem()

    embedder = HashEmbedder()
    report = Engine(settings, embedder=embedder).ingest(progress=False)
    total = report.chunks_embedded + report.papers_embedded + report.sentences_embedded
    # Resumed: all the interrupted run embedded, plus SHARED in the 30 papers of batches 2-4 (the interrupted run
    # took batch 2's from its own batch 1 and never reached 3-4); nothing else embedded again.
    assert report.vectors_resumed == broken.texts + 30 and embedder.texts == total - report.vectors_resumed
    whole = Engine(settings_for(tmp_path / "whole", corpus, batch_papers=10), embedder=HashEmbedder())
    whole.ingest(progress=False)
    assert chunk_records(Engine(settings, embedder=HashEmbedder())) == chunk_records(whole)


def test_the_dense_files_are_given_up_past_exact_max_chunks(tmp_path: Path) -> None:
    corpus = tmp_path / "snapshot.jsonl"
    write_snapshot(corpus, 30, sentences=9)
    settings = settings_for(tmp_path / "data", corpus, batch_papers=8)
    settings = settings.model_copy(update={"retrieval": settings.retrieval.model_copy(update={"exact_max_chunks": 50})})
    engine = Engine(settings, embedder=HashEmbedder())
    report = engine.ingest(progress=False)
    assert report.chunks_embedded > 50
    assert not (engine.index.generation_dir / DENSE_FOLDER).exists()  # the retriever asks Chroma instead
    assert top_hit(engine, marker(12)) == arxiv(12)


def dense_records(engine: Engine) -> dict[str, tuple[str, str, np.ndarray]]:
    """chunk id -> (its paper, its text, its vector) from the answering generation's dense/ files."""
    cache = VectorCache.open(engine.index.generation_dir / DENSE_FOLDER)
    assert cache is not None
    owners = [cache.paper_ids[int(o)] for o in cache.owner]
    return {
        cache.chunk_ids[r]: (owners[r], cache.texts[r], np.array(cache.matrix[r]))
        for r in range(len(owners))
    }


def test_chunk_vectors_in_dense_files_only_at_any_size(tmp_path: Path, pages: list[tuple[str, int]]) -> None:
    """chroma.chunks off: Chroma holds the paper vectors, the chunk vectors are in dense/ only, kept past
    exact_max_chunks and scored exactly; a re-ingest copies the unchanged papers' chunks from the old dense/."""
    corpus = tmp_path / "snapshot.jsonl"
    write_snapshot(corpus, 30, sentences=9)
    settings = settings_for(tmp_path / "data", corpus, batch_papers=8)
    settings = settings.model_copy(
        update={
            "chroma": settings.chroma.model_copy(update={"chunks": False}),
            "retrieval": settings.retrieval.model_copy(update={"exact_max_chunks": 50}),
        }
    )
    engine = Engine(settings, embedder=HashEmbedder())
    report = engine.ingest(progress=False)
    assert report.chunks_embedded > 50
    assert engine.index.collection() is None and engine.index.papers_collection().count() == 30
    assert not any(c.name.endswith("_c") for c in engine.index.client().list_collections())
    first = dense_records(engine)
    assert len(first) == report.chunks_embedded
    assert [top_hit(engine, marker(i)) for i in (7, 12, 21)] == [arxiv(7), arxiv(12), arxiv(21)]

    write_snapshot(corpus, 30, sentences=9, changed={7: 1})
    embedder = HashEmbedder()
    report = Engine(settings, embedder=embedder).ingest(progress=False)
    assert (report.papers_updated, report.papers_embedded) == (1, 1)
    assert pages and all(name.endswith("_p") for name, _ in pages)  # the kept chunks came from the old dense/
    engine = Engine(settings, embedder=HashEmbedder())
    again = dense_records(engine)
    (changed,) = {pid for pid, text, _ in first.values() if marker(7) in text}
    kept = [c for c, r in first.items() if r[0] != changed]
    assert sorted(c for c, r in again.items() if r[0] != changed) == sorted(kept)
    assert all(again[c][:2] == first[c][:2] and np.allclose(again[c][2], first[c][2], atol=1e-5) for c in kept)
    assert top_hit(engine, marker(7, 1)) == arxiv(7) and top_hit(engine, marker(21)) == arxiv(21)
    assert top_hit(engine, marker(7)) != arxiv(7)  # the old text of the changed paper is gone


def test_a_reingest_tokenizes_only_the_papers_whose_search_text_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BM25 at re-ingest is updated from the previous generation's saved counts: only the changed paper is
    tokenized, and one whose comments alone changed (its content hash, by which its vectors are copied, does not
    cover comments; its search text does). Keyword search finds the new texts and not the old."""
    tokenized: list[str] = []

    class Spy(rag.keywords.Tokenizer):
        def __call__(self, texts: list[str]) -> list[list[str]]:
            tokenized.extend(texts)
            return super().__call__(texts)

    monkeypatch.setattr(rag.index, "Tokenizer", Spy)  # the ingest's tokenizer; searching tokenizes with its own
    corpus = tmp_path / "snapshot.jsonl"
    write_snapshot(corpus, 30, sentences=6)
    settings = settings_for(tmp_path / "data", corpus, batch_papers=8)
    first = Engine(settings, embedder=HashEmbedder()).ingest(progress=False)
    assert len(tokenized) == 30 and first.keywords.startswith("built (30 papers tokenized)")

    write_snapshot(corpus, 30, sentences=6, changed={7: 1})
    lines = corpus.read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[12])
    lines[12] = json.dumps({**rec, "comments": "Accepted at Snorkelconf 2024"})
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokenized.clear()
    second = Engine(settings, embedder=HashEmbedder()).ingest(progress=False)
    assert second.papers_updated == 1  # paper 12 kept its content hash: its vectors were copied
    assert second.keywords.startswith("updated (2 of 30 papers tokenized)") and "bm25 updated" in second.stage_line()
    assert len(tokenized) == 2 and marker(7, 1) in tokenized[0] and "Snorkelconf" in tokenized[1]

    keyword = settings.model_copy(deep=True)
    keyword.retrieval.mode = "bm25"
    engine = Engine(keyword, embedder=HashEmbedder())
    assert top_hit(engine, marker(7, 1)) == arxiv(7) and top_hit(engine, "Snorkelconf") == arxiv(12)
    assert top_hit(engine, marker(21)) == arxiv(21)  # an unchanged paper, its counts reused
    assert top_hit(engine, marker(7)) is None  # the old text is gone, its marker from the vocabulary too
    assert engine.retriever.keywords.term_ids(rag.keywords.Tokenizer()([marker(7)])[0]) == {}

    tokenized.clear()
    write_snapshot(corpus, 30, sentences=6, changed={7: 1})  # paper 12's comments gone again: one more update
    third = Engine(settings, embedder=HashEmbedder()).ingest(progress=False)
    assert third.keywords.startswith("updated (1 of 30 papers tokenized)") and len(tokenized) == 1
    assert top_hit(Engine(keyword, embedder=HashEmbedder()), "Snorkelconf") is None

    # Counts cut short (a copy that stopped): the next change builds the index in full instead.
    saved = Engine(settings, embedder=HashEmbedder()).index.generation_dir / rag.keywords.FOLDER / "doc_tf.npy"
    saved.write_bytes(saved.read_bytes()[:-40])
    write_snapshot(corpus, 30, sentences=6, changed={7: 2})
    fourth = Engine(settings, embedder=HashEmbedder()).ingest(progress=False)
    assert fourth.keywords.startswith("not updated (ValueError") and "built (30 papers tokenized)" in fourth.keywords
    engine = Engine(keyword, embedder=HashEmbedder())
    assert top_hit(engine, marker(7, 2)) == arxiv(7) and top_hit(engine, marker(7, 1)) is None


# ~60 s without a model (chunking and Chroma's writes of ~34k records, twice): too slow for the fast tier's
# one-minute budget, so it runs with the integration tier.
@pytest.mark.integration
def test_a_reingest_above_the_size_one_chroma_read_fails_at(tmp_path: Path, pages: list[tuple[str, int]]) -> None:
    """Above ~32k records one Chroma read of the chunk collection fails ("too many SQL variables", SQLite's limit of
    32,766): a corpus past that, with two papers changed, re-ingests by copying the rest page by page."""
    corpus = tmp_path / "snapshot.jsonl"
    write_snapshot(corpus, 3300, sentences=45)
    engine = Engine(settings_for(tmp_path / "data", corpus), embedder=HashEmbedder())
    engine.ingest(progress=False)
    total = engine.index.collection().count()
    assert total > 33_000

    write_snapshot(corpus, 3300, sentences=45, changed={7: 1, 3000: 1})
    report = engine.ingest(progress=False)
    assert (report.papers_updated, report.papers_embedded) == (2, 2)
    old_chunks = [n for name, n in pages if name.endswith("_c")]
    assert sum(old_chunks) == total and len(old_chunks) == -(-total // rag.vectors.CHROMA_PAGE)
    assert engine.index.collection().count() == engine.index.read_meta()["chunks"] > 33_000
    assert top_hit(engine, marker(3000, 1)) == arxiv(3000) and top_hit(engine, marker(2500)) == arxiv(2500)


def test_an_ingest_writes_what_large_sizes_search_with_and_it_answers_the_same(tmp_path: Path) -> None:
    """What 1M papers are searched with, written by every ingest: the int8 copy of the paper vectors, the map from
    catalog positions to the cache's papers, the catalog's date columns. Searching with them (forced on at 30
    papers, the prefilter too) finds what searching without them finds."""
    corpus = tmp_path / "snapshot.jsonl"
    write_snapshot(corpus, 30, sentences=9)
    settings = settings_for(tmp_path / "data", corpus, batch_papers=8)
    engine = Engine(settings, embedder=HashEmbedder())
    engine.ingest(progress=False)
    dense = engine.index.generation_dir / DENSE_FOLDER
    cache = VectorCache.open(dense, int8_above=0)
    assert cache is not None and cache.int8 is not None and cache._ord_pos is not None
    ids = engine.catalog.ids_in_order()
    assert [cache.paper_ids[i] if i >= 0 else None for i in cache._ord_pos.tolist()] == ids
    assert engine.catalog.store.rows("SELECT count(*) FROM columns")[0][0] == 2
    large = settings.retrieval.model_copy(update={"int8_above_papers": 0, "prefilter_above_chunks": 0,
                                                  "prefilter_papers": 10})  # fmt: skip
    forced = Engine(settings.model_copy(update={"retrieval": large}), embedder=HashEmbedder())
    plain = Engine(settings.model_copy(update={"retrieval": large.model_copy(update={"int8_above_papers": 10**9})}),
                   embedder=HashEmbedder())  # fmt: skip
    assert forced.retriever.vectors is not None and forced.retriever.vectors.int8 is not None
    for query in [marker(7), marker(21), "papers from 2024 on " + marker(3), SHARED]:
        got, want = forced.search(query, k=5), plain.search(query, k=5)
        assert [(h.paper_id, h.score) for h in got.hits] == [(h.paper_id, h.score) for h in want.hits], query
    assert [h.arxiv_id for h in forced.search(marker(12), k=1).hits] == [arxiv(12)]
