"""Hybrid retrieval on the real index: lay words, names, ids, follow-ups, filters."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.engine import Engine
from rag.models import Message
from rag.retrieve import RELEASED, Filters, Retriever, compound_names, name_phrases, spelt_out, strongest_named


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


def test_best_sentence_per_paper_is_a_segmented_max() -> None:
    import numpy as np

    from rag.retrieve import SentenceScores

    rng = np.random.default_rng(0)
    stored = {pid: ([f"s{i}" for i in range(n)], rng.standard_normal((n, 4)).astype(np.float32))
              for pid, n in [("a", 3), ("b", 1), ("empty", 0), ("c", 5)]}  # fmt: skip
    scores = SentenceScores(stored)
    q = rng.standard_normal(4).astype(np.float32)
    best = scores.best(q)
    assert list(scores.index) == ["a", "b", "c"]  # a paper without sentences has no row
    for pid, i in scores.index.items():
        assert best[i] == pytest.approx(float((stored[pid][1] @ q).max()), rel=1e-5)
    assert SentenceScores({}).best(q).size == 0


def _engine_with(built_engine: Engine, **retrieval: float) -> Engine:
    settings = built_engine.settings.model_copy(deep=True)
    for name, value in retrieval.items():
        setattr(settings.retrieval, name, value)
    return Engine(settings, embedder=built_engine.embedder)


def test_a_lay_question_leans_on_the_paper_vector_a_named_one_does_not(built_engine: Engine) -> None:
    off = _engine_with(built_engine, lay_paper_share=0.0)
    lay_q = "is there work on making big models cheaper to run on a phone?"
    assert built_engine.settings.retrieval.lay_paper_share == 1.0
    on_hit, off_hit = built_engine.search(lay_q, k=1).hits[0], off.search(lay_q, k=1).hits[0]
    assert "dense" not in on_hit.scores and "dense" in off_hit.scores  # keyword search untrusted: chunks out
    assert on_hit.scores["paper"] > off_hit.scores["paper"] * 2  # ... their weight moved to the paper vector
    named = "What did Omid Saremi co-author?"  # names an author: not a lay paraphrase, weights unchanged
    assert built_engine.search(named, k=2).hits[0].scores == off.search(named, k=2).hits[0].scores


def test_sentence_channel_and_feedback_join_the_fusion_when_switched_on(built_engine: Engine) -> None:
    q = "classifier-free guidance predictor corrector"
    engine = _engine_with(built_engine, sentence_weight=0.5, prf_weight=0.5)
    hits = engine.search(q, k=5).hits
    assert hits[0].title == "Classifier-Free Guidance is a Predictor-Corrector"
    assert all("sentence" in h.scores for h in hits)
    assert "sentence" not in built_engine.search(q, k=5).hits[0].scores  # off by default
    plain = built_engine.search(q, k=5).hits[0].scores["paper"]
    assert engine.search(q, k=5).hits[0].scores["paper"] != plain  # feedback moved the query vector


def test_a_ruled_out_subject_leaves_its_papers_out(built_engine: Engine) -> None:
    """"not ... reinforcement learning": the papers about it are left out, the rest of the question still ranks."""
    plain = built_engine.search("Which papers about language models use reinforcement learning?", k=10).hits
    assert sum("Reinforcement" in h.title for h in plain[:5]) >= 2  # the subject is well covered: a real test
    ruled = built_engine.search("Which papers about language models do not use reinforcement learning?", k=10)
    assert ruled.analysis is not None and ruled.analysis.exclude == ["reinforcement learning"]
    assert not any("Reinforcement" in h.title for h in ruled.hits)
    assert sum("Language Model" in h.title for h in ruled.hits[:5]) >= 2
    answer = built_engine.ask("Which papers about language models do not use reinforcement learning?")
    assert 'Left out as asked: papers about "reinforcement learning"' in answer.answer
    assert answer.citations and not any("Reinforcement" in c.title for c in answer.citations)


def test_a_ruled_out_subject_is_told_apart_by_the_words_the_topic_lacks(built_engine: Engine) -> None:
    """"diffusion papers not about diffusion language models": every candidate is about diffusion, so "language"
    decides; scored on all three words the subject also took the plain diffusion papers out."""
    retriever, titles = built_engine.retriever, built_engine.catalog.by_id
    dlm, image = "Sequential Diffusion Language Models", "Eliminating Lipschitz Singularities in Diffusion Models"
    whole = {titles[pid].title for pid in retriever.ruled_out(["diffusion language models"])}
    told_apart = {titles[pid].title for pid in retriever.ruled_out(["diffusion language models"], "diffusion models")}
    assert dlm in whole and image in whole  # the bag of words: too much goes
    assert dlm in told_apart and image not in told_apart
    hits = built_engine.search("Which diffusion model papers are not about diffusion language models?", k=10).hits
    assert hits and dlm not in {h.title for h in hits}
    assert sum("Diffusion" in h.title for h in hits[:5]) >= 3


def test_a_ruled_out_subject_is_measured_against_the_questions_own_candidates(built_engine: Engine) -> None:
    """"LLM quantization papers, excluding post-training quantization": the corpus has papers saying "post" more often
    than any quantization paper says "post-training", so against the corpus' best a post-training quantization
    paper stays; against the best of the question's candidates it is about the subject and goes."""
    retriever, titles = built_engine.retriever, built_engine.catalog.by_id
    question = ("Which papers use quantization or low-precision numbers for large language models during training or "
                "fine-tuning, excluding post-training quantization methods?")
    asked = built_engine.search(question).analysis
    topic, subject = asked.topic, asked.exclude
    assert subject == ["post-training quantization methods"]
    pool = [h.paper_id for h in built_engine.search(topic, k=20).hits]
    slim = next(pid for pid in pool if titles[pid].title.startswith("SliM-LLM"))
    assert slim not in retriever.ruled_out(subject, topic)
    assert slim in retriever.ruled_out(subject, topic, pool)


def test_the_first_searches_on_several_threads_score_alike(built_engine: Engine) -> None:
    """The HTTP API searches on several threads. The first ones open the vector matrices together: each must wait
    for them, not score by another path because another thread has started opening them."""
    retriever = Retriever(built_engine.settings, built_engine.index)  # nothing opened yet
    start = threading.Barrier(6)

    def first_search(_: int) -> tuple[object, object, list[str]]:
        start.wait()
        analysis = built_engine.understander.analyse("which papers study length generalization?", [])
        hits = retriever.search(analysis, k=5).hits
        return retriever.vectors, retriever.sentences, [h.paper_id for h in hits]

    with ThreadPoolExecutor(6) as pool:
        seen = list(pool.map(first_search, range(6)))
    assert seen[0][0] is not None and seen[0][1] is not None
    assert all(v is seen[0][0] and s is seen[0][1] and ids == seen[0][2] for v, s, ids in seen)


def test_a_named_paper_ruled_out_is_not_returned(built_engine: Engine) -> None:
    hits = built_engine.search("Which papers other than TarFlow study normalizing flows?", k=5).hits
    assert hits and not any("TarFlow" in h.abstract for h in hits)


def paper_text(engine: Engine, paper_id: str) -> str:
    paper = engine.catalog.by_id[paper_id]
    return f"{paper.title} {paper.abstract}"


@pytest.mark.parametrize(("acronym", "long_form"), [("LLMs", "large language models"), ("RL", "reinforcement learning"),
                                                    ("CFG", "classifier-free guidance"), ("MoE", "mixture of experts")])
def test_a_ruled_out_acronym_also_rules_out_its_long_form(built_engine: Engine, acronym: str, long_form: str) -> None:
    """"not LLMs": a paper spelling out only "large language models" is as much about them."""
    retriever = built_engine.retriever
    assert retriever.long_forms(acronym) == [long_form]  # read from the corpus's own definitions
    out = retriever.ruled_out([acronym])
    spelled_out_only = [pid for pid in out if acronym.rstrip("s") not in paper_text(built_engine, pid)]
    assert spelled_out_only and retriever.ruled_out([long_form]) <= out  # caught through the long form alone
    assert retriever.long_forms("TarFlow") == [] and retriever.long_forms("images") == []


@pytest.mark.parametrize(("long_form", "acronym"), [("large language models", "LLM"), ("reinforcement learning", "RL"),
                                                    ("classifier-free guidance", "CFG")])
def test_a_ruled_out_long_form_also_rules_out_its_acronym(built_engine: Engine, long_form: str, acronym: str) -> None:
    """"not about large language models": a paper writing only "LLMs" is as much about them."""
    retriever = built_engine.retriever
    assert acronym in retriever.short_forms(long_form)  # the corpus defines the acronym as this long form
    out = retriever.ruled_out([long_form])
    acronym_only = [pid for pid in out if long_form not in paper_text(built_engine, pid).lower()]
    assert acronym_only and retriever.ruled_out([acronym]) <= out  # caught through the acronym alone
    # initials that spell no acronym the corpus defines, or one it defines otherwise, add nothing
    assert retriever.short_forms("reward learning") == [] and retriever.short_forms("images") == []


def test_a_follow_up_ruling_a_subject_out_keeps_the_paper_it_asks_about(built_engine: Engine) -> None:
    """"Besides model reduction noise, what did that paper say ...": the paper under discussion is about model
    reduction noise, and it is the one asked about."""
    title = ("Every Parameter Matters: Ensuring the Convergence of Federated Learning with Dynamic Heterogeneous "
             "Models Reduction")
    history = [Message(role="user", content="Any convergence guarantees for federated learning with weak devices?"),
               Message(role="assistant", content=f"Yes: '{title}' gives a convergence analysis.")]  # fmt: skip
    q = "Besides model reduction noise, what new quantity did that paper say determines whether it converges?"
    found = built_engine.search(q, history=history)
    assert found.analysis is not None and found.analysis.exclude == ["model reduction noise"]
    assert found.hits[0].title.startswith(title)


def test_only_the_strongest_then_closest_metadata_matches_compete() -> None:
    named = {f"p{i}": 1.0 for i in range(1000)} | {"exact": 1.5}  # an author with 1,000 papers, one exact title
    close = {"p7": 0.9, "p3": 0.8}

    def closest(ids: list[str], n: int) -> list[str]:
        return sorted(ids, key=lambda pid: -close.get(pid, 0.0))[:n]

    assert list(strongest_named(named, closest, 3)) == ["exact", "p7", "p3"]
    assert list(strongest_named(named, closest, 5)) == ["exact", "p7", "p3", "p0", "p1"]  # ties: as matched
    assert strongest_named({"a": 1.0}, closest, 3) == {"a": 1.0}


def test_an_author_with_more_papers_than_the_cap_keeps_the_same_head(built_engine: Engine) -> None:
    q = "Which papers by Arwen Bradley are about video stabilization?"
    assert sum("Arwen Bradley" in p.authors for p in built_engine.catalog.papers) > 2  # more than the cap below
    full = built_engine.search(q, k=1).hits
    capped = _engine_with(built_engine, candidates=2).search(q, k=1).hits  # cap max(2, 2k) = 2
    assert "Video Stabilization" in full[0].title and capped[0].paper_id == full[0].paper_id


@pytest.mark.parametrize(
    ("word", "spelt"),
    [("MCMC", True), ("MCMCs", True), ("SGLD", True), ("ASAM", False),  # "Adapters for Segment Anything Models"
     ("CTC", False), ("McMC", False),  # three letters spell words by chance; not an acronym
     ("cvar", True), ("sgld", True), ("cats", False)],  # a lower-case acronym, but no English word
)  # fmt: skip
def test_an_acronym_is_spelt_out_by_the_initials_of_consecutive_words(word: str, spelt: bool) -> None:
    text = (
        "Adapters for Segment Anything Models. "
        "We sample with Markov chain Monte Carlo and stochastic gradient Langevin dynamics. Cats trot calmly. "
        "We maximise the conditional value-at-risk. Cats are all trotting south."
    )
    assert spelt_out(word, [text]) is spelt


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("How does Phi-3-mini compare with GPT-4 and U-Net?", ["Phi-3-mini", "GPT-4", "U-Net"]),
        ("does phi-3-mini or llama-3.1-8b beat gpt-4o?", ["phi-3-mini", "llama-3.1-8b", "gpt-4o"]),
        ("is there a guide to llama.cpp or node.js?", ["llama.cpp", "node.js"]),
        # counts and everyday compounds are no names; nor a web address, nor a sentence's end
        ("what is the top-5 accuracy of a layer-12 probe over n-1 steps?", []),
        ("a self-driving, mostly-English model. See arxiv.org for more.", []),
        # a modifier is no part of the name: "T5-based" names T5
        ("Which T5-based or Llama-3-based parser, and a GPT-4-style judge?", ["Llama-3", "GPT-4"]),
    ],
)
def test_hyphenated_and_dotted_names(text: str, found: list[str]) -> None:
    assert compound_names(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Is Llama Guard any good at flagging unsafe prompts?", ["Llama Guard"]),
        ("Which models do best on BIG-bench Hard?", ["BIG-bench Hard"]),
        ("Under the EU AI Act, what applies?", ["EU AI Act"]),  # the sentence's first word is left out
        ("What did Geoffrey Hinton's paper find?", ["Geoffrey Hinton"]),  # a run ends at a possessive
        ("I study Stable Video Diffusion. Ring Attention, too.", ["Stable Video Diffusion"]),
        # no name: a sentence's opening word, "I", two coined names side by side, a modifier, a quoted title
        ("Mixture models. Diffusion is fine", []),
        ("Can I use it? If I may", []),
        ("Which models did the PLoP LoRA experiments use?", []),
        ("Can RoPE-based LLaMA models extend context?", []),
        ("Which dataset was the LoRA-finetuned Stable Diffusion model trained on?", ["Stable Diffusion"]),
        ("Are CLIP-guided Diffusion Models better?", ["Diffusion Models"]),
        ("Who wrote 'Local Mechanisms of Compositional Generalization'?", []),
    ],
)
def test_multi_word_names(text: str, found: list[str]) -> None:
    assert name_phrases(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("any papers on squad 2.0 or llama 3.3 70b?", [("", "squad", "2.0"), ("", "llama", "3.3")]),
        ("Is Stable Diffusion 1.5 better?", [("Is Stable ", "Diffusion", "1.5")]),  # the lead is cut to the subject
        ("does yolo v5 detect cars?", [("", "yolo", "5")]),
        # a count is no release: "top 5", "phase 2", "7 days"
        ("do phase 2 trials beat the top 5 in 7 days?", []),
    ],
)
def test_names_with_a_release_number(text: str, found: list[tuple[str, str, str]]) -> None:
    assert [m.groups() for m in RELEASED.finditer(text)] == found
