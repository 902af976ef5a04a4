"""Hybrid retrieval on the real index: lay words, names, ids, follow-ups, filters."""

from __future__ import annotations

import pytest

from rag.engine import Engine
from rag.models import Message
from rag.retrieve import Filters


def top_titles(engine: Engine, q: str, k: int = 5, **kw) -> list[str]:
    return [h.title for h in engine.search(q, k=k, **kw).hits]


def test_lay_question_finds_the_paper(built_engine: Engine) -> None:
    titles = top_titles(built_engine, "is there work on making big models cheaper to run on a phone?")
    assert any("Quantization" in t for t in titles[:3])


def test_author_and_arxiv_id_come_first(built_engine: Engine) -> None:
    titles = top_titles(built_engine, "What did Omid Saremi co-author?", k=2)
    assert set(titles) == {
        "Vanishing Gradients in Reinforcement Finetuning of Language Models",
        "To Infinity and Beyond: Tool-Use Unlocks Length Generalization in State Space Models",
    }
    hit = built_engine.search("what is paper 2502.12786 about?", k=3).hits[0]
    assert hit.arxiv_id == "2502.12786" and "metadata" in hit.scores


def test_followup_retrieves_the_paper_from_history(built_engine: Engine) -> None:
    history = [
        Message(role="user", content="what is a paper about stabilizing shaky handheld video?"),
        Message(role="assistant", content="Cinematic-L1 Video Stabilization with a Log-Homography Model [1] ..."),
    ]
    result = built_engine.search("who wrote it?", k=3, history=history)
    assert result.hits[0].title.startswith("Cinematic-L1 Video Stabilization")
    assert result.standalone_question and "Cinematic-L1" in result.standalone_question
    # without history the same words find nothing in particular
    assert not built_engine.search("who wrote it?", k=3).hits[0].title.startswith("Cinematic-L1")


def test_filters_restrict_every_channel(built_engine: Engine) -> None:
    hits = built_engine.search("diffusion models", k=10, filters=Filters(authors=["Arwen Bradley"])).hits
    assert hits and all("Arwen Bradley" in h.authors for h in hits)
    hits = built_engine.search("diffusion", k=10, filters=Filters(year_from=2025, year_to=2025)).hits
    assert hits and all(h.year == 2025 for h in hits)
    hits = built_engine.search("calibration", k=5, filters=Filters(source="arxiv-listing")).hits
    assert hits and all(h.arxiv_id for h in hits)


def test_hits_are_papers_with_evidence(built_engine: Engine) -> None:
    result = built_engine.search("length generalization in transformers", k=8)
    ids = [h.paper_id for h in result.hits]
    assert len(ids) == len(set(ids)) == 8
    assert all(h.evidence and h.dense_score is not None for h in result.hits)
    assert [h.rank for h in result.hits] == list(range(1, 9))


@pytest.mark.parametrize("mode", ["dense", "bm25"])
def test_baseline_modes_run_alone(built_engine: Engine, mode: str) -> None:
    settings = built_engine.settings.model_copy(deep=True)
    settings.retrieval.mode = mode  # type: ignore[assignment]
    engine = Engine(settings, embedder=built_engine.embedder)
    hits = engine.search("classifier-free guidance predictor corrector", k=3).hits
    assert hits[0].title == "Classifier-Free Guidance is a Predictor-Corrector"
    assert all(set(h.scores) == {mode} for h in hits)
