"""The query-understanding stage on a table of phrasings written independently of it
(tests/understand_cases.py): intent, fact, the names acted on, topic and follow-up. No index needed."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from rag.catalog import Catalog, build_catalog
from rag.limits import Limits
from rag.models import CONFIDENT, ENTITY_IDS_SHOWN, Answer, Citation, Entity, Message, Paper, QueryAnalysis
from rag.settings import Settings
from rag.text import fold
from rag.understand import ROUTES, Understander, facts_asked, is_followup, topic_of
from tests.conftest import CORPUS
from tests.understand_cases import ADVERSARIAL, CASES, FOLLOWUPS, Case


def catalog_understander() -> Understander:
    papers, _ = build_catalog(CORPUS)
    return Understander(Catalog(papers))


@pytest.fixture(scope="module")
def understander() -> Understander:
    return catalog_understander()


def acts_on(entity: Entity, name: str) -> bool:
    name = name.lower()
    return entity.confidence >= CONFIDENT and (
        name in entity.name.lower() or name == entity.value.lower() or name in entity.text.lower()
        or any(name == pid for pid in entity.paper_ids)
    )  # fmt: skip


def analyse(understander: Understander, case: Case) -> QueryAnalysis:
    history = [Message.model_validate(t) for t in case.history or []]
    return understander.analyse(case.question, history)


def test_the_table_is_big_and_adversarial() -> None:
    assert len(CASES) >= 150 and len(ADVERSARIAL) >= 40 and len(FOLLOWUPS) >= 20


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.question[:60])
def test_understanding(understander: Understander, case: Case) -> None:
    a = analyse(understander, case)
    got = (a.intent, a.fact if a.intent == "paper_fact" else None, a.followup)
    assert got == (case.intent, case.fact, case.followup), a.rule
    for name in case.names:
        assert any(acts_on(e, name) for e in a.entities), (name, [(e.kind, e.name, e.confidence) for e in a.entities])
    if case.intent != "chitchat":
        assert bool(a.topic) == case.has_topic, a.topic


def test_routes_are_a_table_ending_in_topical_by_default(understander: Understander) -> None:
    assert next(r.intent for r in ROUTES) == "chitchat"
    a = understander.analyse("Which arXiv papers study diffusion models?")
    assert a.intent == "topical" and a.many and a.topic == "diffusion models"


# A question that rules a subject out: (question, subjects ruled out, what is still searched). Adversarial rows
# carry a negation that is not one ("does not improve", "without backpropagation", "other than" in a description).
NEGATIONS: list[tuple[str, list[str], str]] = [
    ("Which papers about language models do not use reinforcement learning?", ["reinforcement learning"],
     "Which papers about language models?"),
    ("Are there papers on diffusion models that are not about images?", ["images"],
     "Are there papers on diffusion models?"),
    ("Which papers other than TarFlow study normalizing flows?", ["TarFlow"], "Which papers study normalizing flows?"),
    ("Which papers study calibration but not conformal prediction?", ["conformal prediction"],
     "Which papers study calibration?"),
    ("papers on transformers excluding work on vision, from 2024", ["vision"], "papers on transformers, from 2024"),
    ("What papers don't focus on LLMs but study graphs?", ["LLMs"], "What papers study graphs?"),
    ("Which diffusion papers aren't about images and were published in 2024?", ["images"],
     "Which diffusion papers were published in 2024?"),
    ("list works on quantization, except for those on LLMs", ["LLMs"], "list works on quantization"),
    ("Which benchmark papers do not involve code generation?", ["code generation"], "Which benchmark papers?"),
    ("any studies on privacy that are not related to federated learning", ["federated learning"],
     "any studies on privacy"),
    ("Which flow models other than TarFlow does the corpus cover?", ["TarFlow"],
     "Which flow models does the corpus cover?"),
    ("Which papers on LLM agents working together are not about debating or voting?", ["debating", "voting"],
     "Which papers on LLM agents working together?"),
    ("Which robotics papers do not use simulation or reinforcement learning, from 2024?",
     ["simulation", "reinforcement learning"], "Which robotics papers, from 2024?"),
    ("Which diffusion papers aren't about images or video and were published in 2024?", ["images", "video"],
     "Which diffusion papers were published in 2024?"),
    ("Which papers on KV caching are not about evicting tokens from the cache, quantizing it, or diffusion LMs?",
     ["evicting tokens from cache", "quantizing it", "diffusion LMs"], "Which papers on KV caching?"),
    ("Which vision papers are not about images, video or 3D scenes?", ["images", "video", "3D scenes"],
     "Which vision papers?"),
    ("Which causal discovery papers are not about hidden (latent) variables?", ["hidden latent variables"],
     "Which causal discovery papers?"),
    # a kind of paper ruled out by "are not" / "aren't", with the papers as the verb's subject
    ("Which papers on transformers are not surveys?", ["surveys"], "Which papers on transformers?"),
    ("Which studies on reinforcement learning aren't theoretical?", ["theoretical"],
     "Which studies on reinforcement learning?"),
    ("Which robotics papers that are not benchmarks came out in 2024?", ["benchmarks"],
     "Which robotics papers came out in 2024?"),
    # "leaving aside", "setting aside", "not counting"
    ("Setting aside diffusion, which generative model papers are there?", ["diffusion"],
     "which generative model papers are there?"),
    ("Which quantization papers are there, not counting the surveys?", ["surveys"],
     "Which quantization papers are there?"),
    # "leaving out X"; pointing at works ("ones based on", "anything built on") rules them out even in a question
    # that does not say "papers"
    ("Which papers study text diffusion, leaving out the ones built on LLaDA?", ["LLaDA"],
     "Which papers study text diffusion?"),
    ("Which papers tune LLMs with forward passes only, leaving out the decentralized versions?",
     ["decentralized versions"], "Which papers tune LLMs with forward passes only?"),
    ("What methods make DPO robust to noisy labels, other than ones based on robust optimization?",
     ["robust optimization"], "What methods make DPO robust to noisy labels?"),
    ("Which papers distil vision models, other than the ones distilling language models?", ["language models"],
     "Which papers distil vision models?"),
    ("What ways steer a diffusion model, not counting anything built on classifier-free guidance?",
     ["classifier-free guidance"], "What ways steer a diffusion model?"),
    # "the stuff about X"; building a method on X; the asker not wanting X
    ("I'm interested in mixture-of-experts research, but not the stuff about large language models. What's there?",
     ["large language models"], "I'm interested in mixture-of-experts research. What's there?"),
    ("Which papers on distilling LLMs into smaller students don't build their method on KL divergence?",
     ["KL divergence"], "Which papers on distilling LLMs into smaller students?"),
    ("Which papers study graph learning? I don't want anything about molecules.", ["molecules"],
     "Which papers study graph learning?"),
    ("Papers on model compression, please. I'm not interested in pruning.", ["pruning"],
     "Papers on model compression, please."),
    ("Which papers on test-time scaling don't depend on a verifier?", ["verifier"],
     "Which papers on test-time scaling?"),
    # ... but what a method does not need is the subject's own, and so is what the asker does not want to do
    ("Which methods do not need labelled data?", [], "Which methods do not need labelled data?"),
    ("I don't want to label data: which papers do self-supervised pretraining?", [],
     "I don't want to label data: which papers do self-supervised pretraining?"),
    # ... but "other than X" in a question not asking for papers is the subject's own
    ("How do models perform on metrics other than accuracy?", [],
     "How do models perform on metrics other than accuracy?"),
    # a prepositional phrase is part of the subject unless a date or a name follows
    ("Which papers study alignment, other than evaluations in clinical settings?",
     ["evaluations in clinical settings"], "Which papers study alignment?"),
    ("Which papers are not about pruning during pre-training?", ["pruning during pre-training"], "Which papers?"),
    ("Which papers are not about images in 2024?", ["images"], "Which papers in 2024?"),
    ("graph papers that aren't built on sequence models", ["sequence models"], "graph papers"),
    ("Which vision architectures are there, without a focus on medical imaging?", ["medical imaging"],
     "Which vision architectures are there?"),
    ("Which papers study mixture-of-experts models outside of language models?", ["language models"],
     "Which papers study mixture-of-experts models?"),
    ("Which papers study mixture-of-experts models outside the context of language models?", ["language models"],
     "Which papers study mixture-of-experts models?"),
    # ... but going outside the training data is the subject itself
    ("Which papers study generalization outside the training distribution?", [],
     "Which papers study generalization outside the training distribution?"),
    # asking for surveys or research asks for papers
    ("Are there surveys of reinforcement learning other than ones about robotics?", ["robotics"],
     "Are there surveys of reinforcement learning?"),
    ("Is there research on watermarking, apart from text watermarks?", ["text watermarks"],
     "Is there research on watermarking?"),
    # the ruled-out subject as a relative clause: "the one(s) where / that ..."
    ("Which papers study model collapse, excluding the ones that curate the training data?",
     ["curate training data"], "Which papers study model collapse?"),
    ("Which privacy papers are there, other than the one where clients train a shared model?",
     ["clients train shared model"], "Which privacy papers are there?"),
    # a list after the ruled-out subject that is not part of it
    ("Which papers not about RL study robots, planning or games?", ["RL"],
     "Which papers study robots, planning or games?"),
    ("Which papers are not about images, and what do they find?", ["images"], "Which papers, and what do they find?"),
    ("Which papers are not about inference algorithms, whether variational or Monte Carlo?",
     ["inference algorithms"], "Which papers, whether variational or Monte Carlo?"),
    # not a ruled-out subject
    ("How do language models handle languages other than English?", [],
     "How do language models handle languages other than English?"),
    ("Is there a way to train besides backpropagation?", [], "Is there a way to train besides backpropagation?"),
    ("Are there alignment methods besides RLHF?", [], "Are there alignment methods besides RLHF?"),
    ("Has DPO been applied to anything other than language models?", ["language models"],
     "Has DPO been applied to anything?"),
    ("Is diffusion used in domains besides images?", ["images"], "Is diffusion used in domains?"),
    ("Which papers fine-tune language models without backpropagation?", [],
     "Which papers fine-tune language models without backpropagation?"),
    ("Which papers show that RL does not improve reasoning?", [],
     "Which papers show that RL does not improve reasoning?"),
    ("Does scaling not help length generalization?", [], "Does scaling not help length generalization?"),
    ("How can reinforcement learning optimize something other than the average return?", [],
     "How can reinforcement learning optimize something other than the average return?"),
    ("Why do models trained with rewards cheat, ignoring instructions?", [],
     "Why do models trained with rewards cheat, ignoring instructions?"),
    ("Which papers are not on arXiv?", [], "Which papers are not on arXiv?"),
    ("Not only text but also images: which papers generate both?", [],
     "Not only text but also images: which papers generate both?"),
    ("Is a model that is not calibrated still useful?", [], "Is a model that is not calibrated still useful?"),
    ("Is a model that is not calibrated or robust still useful?", [],
     "Is a model that is not calibrated or robust still useful?"),
    ("Which papers show that language models are not robust?", [],
     "Which papers show that language models are not robust?"),
    ("Which papers ask whether LLMs are not calibrated?", [], "Which papers ask whether LLMs are not calibrated?"),
    ("Which papers are not in the corpus?", [], "Which papers are not in the corpus?"),
    ("Which method works on images that are not labelled?", [], "Which method works on images that are not labelled?"),
    ("Which papers are not published yet?", [], "Which papers are not published yet?"),
    # "nothing to do with", "unrelated to"; the ones "applied to" / "focused on" X; a clause describing the ones ruled
    # out; two subjects joined by "and" after "excluding" (not a clause going on, not a time)
    ("Are there papers on private data in machine learning that have nothing to do with language models?",
     ["language models"], "Are there papers on private data in machine learning?"),
    ("papers on privacy unrelated to federated learning", ["federated learning"], "papers on privacy"),
    ("Which papers work on speculative decoding, excluding the ones applied to images?", ["images"],
     "Which papers work on speculative decoding?"),
    ("Survey papers on diffusion models, other than the one focused on medical imaging?", ["medical imaging"],
     "Survey papers on diffusion models?"),
    ("papers on hallucination, but not the ones about models that also look at images",
     ["models that also look at images"], "papers on hallucination"),
    ("papers on hallucination but not the ones that were published in 2024", [],
     "papers on hallucination but not the ones that were published in 2024"),
    ("papers on agents, excluding web agents and coding agents", ["web agents", "coding agents"], "papers on agents"),
    ("papers on RL other than robotics and published in 2024", ["robotics"], "papers on RL published in 2024"),
    ("papers on transformers, excluding those using vision and audio", ["vision", "audio"], "papers on transformers"),
    # imperatives pointing at papers; "without relying on"; what the ones ruled out do; a clause describing the subject
    ("Which papers speed up decoding? Leave out the ones about image generation.", ["image generation"],
     "Which papers speed up decoding?"),
    ("Show me work on hallucinations, but skip anything about vision-language models.", ["vision-language models"],
     "Show me work on hallucinations."),
    ("papers on skip connections in ResNets", [], "papers on skip connections in ResNets"),
    ("Which papers study skip connections? ignore the ones on vision", ["vision"],
     "Which papers study skip connections?"),
    ("Which papers fine-tune LLMs with federated learning without relying on LoRA?", ["LoRA"],
     "Which papers fine-tune LLMs with federated learning?"),
    ("Which papers speed up decoding, other than the ones doing it for image generation?", ["image generation"],
     "Which papers speed up decoding?"),
    ("papers on jailbreaking, excluding attacks that go through audio", ["attacks that go through audio"],
     "papers on jailbreaking"),
    ("Self-play methods for aligning language models - skip anything about safety or red-teaming.",
     ["safety", "red-teaming"], "Self-play methods for aligning language models."),  # no paper word needed
    ("What research is there on hallucination? Apart from the work on models that look at images, please.",
     ["models that look at images"], "What research is there on hallucination?"),
    ("papers about video diffusion models, but skip the ones that are mainly about making them faster or smaller",
     ["making them faster", "smaller"], "papers about video diffusion models"),
    ("Which papers look at speculative decoding? Not the ones that apply it to pictures.", ["apply it to pictures"],
     "Which papers look at speculative decoding?"),
    ("papers on federated learning, not the ones that fine-tune large language models",
     ["fine-tune large language models"], "papers on federated learning"),
    ("Which methods do not work on images?", [], "Which methods do not work on images?"),
    ("papers on RL excluding robotics that were published in 2024", ["robotics"],
     "papers on RL that were published in 2024"),
    ("Which papers on agents, other than web agents and what do they find?", ["web agents"],
     "Which papers on agents, what do they find?"),
    # "rather than" rules out only where papers are asked for by name; elsewhere it contrasts ways of doing the subject
    ("Which papers apply graph neural networks to molecules rather than to social networks?", ["social networks"],
     "Which papers apply graph neural networks to molecules?"),
    ("Are there studies of speech models rather than text models?", ["text models"],
     "Are there studies of speech models?"),
    ("Which papers prune LLMs after training rather than during pretraining or fine-tuning?",
     ["during pretraining", "fine-tuning"], "Which papers prune LLMs after training?"),
    ("Can you tune a chatbot on single ratings rather than pairs of answers?", [],
     "Can you tune a chatbot on single ratings rather than pairs of answers?"),
    ("Is there research on learning causal graphs from gradients rather than discrete search?", [],
     "Is there research on learning causal graphs from gradients rather than discrete search?"),
    ("Which method works out the layers to tune rather than tuning all of them?", [],
     "Which method works out the layers to tune rather than tuning all of them?"),
    # "without using / involving X" rules out where papers are asked for; "don't bring in X" anywhere
    ("Which papers align diffusion models without using reinforcement learning?", ["reinforcement learning"],
     "Which papers align diffusion models?"),
    ("Are there studies of time series forecasting without involving language models?", ["language models"],
     "Are there studies of time series forecasting?"),
    ("How can I pick a data mixture without doing a full training run?", [],
     "How can I pick a data mixture without doing a full training run?"),
    ("Which papers study graph neural networks but don't bring in attention?", ["attention"],
     "Which papers study graph neural networks?"),
    # "has anyone worked on X" asks for papers; what a possessive effect points at is the subject
    ("Other than for LLMs, has anyone worked on low-bit quantization of models?", ["LLMs"],
     "has anyone worked on low-bit quantization of models?"),
    ("Apart from vision, have researchers studied knowledge distillation?", ["vision"],
     "have researchers studied knowledge distillation?"),
    ("Has anyone optimized something other than the average return?", [],
     "Has anyone optimized something other than the average return?"),
    ("What papers work on differential privacy but aren't about its effect on fairness?", ["fairness"],
     "What papers work on differential privacy?"),
    ("Which papers study attention but are not about the role of positional encodings?", ["positional encodings"],
     "Which papers study attention?"),
]  # fmt: skip


@pytest.mark.parametrize(("question", "ruled_out", "searched"), NEGATIONS, ids=lambda x: str(x)[:50])
def test_a_ruled_out_subject_is_not_searched_for(
    understander: Understander, question: str, ruled_out: list[str], searched: str
) -> None:
    a = understander.analyse(question)
    assert a.exclude == ruled_out
    assert a.standalone == searched
    for subject in ruled_out:
        assert subject.lower() not in a.topic.split(), a.topic


def test_a_ruled_out_paper_is_not_named_and_the_listing_still_routes(understander: Understander) -> None:
    a = understander.analyse("Which papers other than TarFlow study normalizing flows?")
    assert not a.of_kind("paper") and a.intent == "topical" and a.many
    a = understander.analyse("Which papers from 2024, excluding those about diffusion, are there?")
    assert a.exclude == ["diffusion"] and a.intent == "list_by_period"


def test_a_capitalised_common_word_names_no_paper(understander: Understander) -> None:
    """Titles capitalise every word: one title's "World" is not a name, a word only one paper uses is."""
    cat = understander.catalog
    assert cat.word_df("world") > 3
    a = understander.analyse("Who won the 2018 FIFA World Cup?")
    assert not a.of_kind("paper", confident=False), a.entities
    a = understander.analyse("What do the authors find about Plutinos?")
    assert [cat.by_id[e.value].title for e in a.of_kind("paper")] == ["The doubly librating Plutinos"]


FACT_OF_A_DESCRIBED_PAPER = [
    ("Who wrote the paper proposing a metric for joint embedding architectures?", ["authors"]),
    ("Do you know who wrote the paper on calibration of neural networks?", ["authors"]),
    ("The paper on watermarking, who wrote it?", ["authors"]),
    ("What is the arXiv id of the paper giving a theoretical framework for length generalization?", ["arxiv_id"]),
    # the cue inside a relative clause or a passive: the question asks about the subject, not a paper's authors
    ("When you train a model on private messages, how do you protect the people who wrote them?", []),
    ("How can you tell whether an essay was written by AI?", []),
    ("Are there tools for developers who made a mistake in their training data?", []),
    ("What do we know about users who published their prompts online?", []),
]


@pytest.mark.parametrize(("question", "facts"), FACT_OF_A_DESCRIBED_PAPER, ids=lambda x: str(x)[:50])
def test_a_fact_of_a_described_paper_is_asked_only_by_the_question_itself(
    understander: Understander, question: str, facts: list[str]
) -> None:
    a = understander.analyse(question)
    assert a.intent == "topical" and a.facts == facts


@pytest.mark.parametrize(
    ("question", "refers_back"),
    [("Can an already pre-trained MoE be converted to that, and how?", True),
     ("Is there anything like this for images?", True),
     ("Which papers are similar to that?", True),
     ("Which papers compare transformers to RNNs?", False),
     ("Papers about diffusion models that use that trick", False),
     ("Are there papers that explain how to do this for images?", False)],
)  # fmt: skip
def test_this_or_that_after_a_preposition_refers_back(question: str, refers_back: bool) -> None:
    assert is_followup(question) is refers_back


AUTHORS_OF_A_PAPER = [
    # they are the subject: what they did is asked, answered from the paper's text
    ("What pip package did the authors of SmoothECE release for plotting calibration?", []),
    ("What do the authors of TarFlow propose?", []),
    ("According to the authors of SmoothECE, why is binning a poor way to measure calibration?", []),
    ("Which datasets have the authors of TarFlow evaluated on?", []),
    ("By how much could TarFlow cut the cost of sampling, according to its authors?", []),
    ("What did its authors find about SmoothECE's bias?", []),
    ("How much faster is TarFlow, according to their authors?", []),
    # they are asked for
    ("Who are the authors of TarFlow?", ["authors"]),
    ("List the authors of SmoothECE", ["authors"]),
    ("Can you tell me the authors of SmoothECE?", ["authors"]),
    ("authors of the TarFlow paper?", ["authors"]),
    ("What are the authors of TarFlow?", ["authors"]),
    ("Are the authors of TarFlow from Apple?", ["authors"]),
    ("TarFlow: who wrote it and who are the authors?", ["authors"]),
]


@pytest.mark.parametrize(("question", "facts"), AUTHORS_OF_A_PAPER, ids=lambda x: str(x)[:50])
def test_the_authors_of_a_paper_are_asked_for_only_when_not_the_subject(
    understander: Understander, question: str, facts: list[str]
) -> None:
    a = understander.analyse(question)
    assert a.facts == facts
    assert (a.intent == "paper_fact") == bool(facts), a.intent


def test_an_ordinal_points_into_the_papers_a_turn_cited_when_its_text_names_none(understander: Understander) -> None:
    """The chat page and `Message.from_answer` send the cited paper ids with an assistant turn: an extractive
    answer's text ("... [1] ... [2]") names no title, and "the second one" must still resolve."""
    cat = understander.catalog
    ids = [p.paper_id for p in list(cat.iter_papers())[:3]]
    cited = [Citation(n=n, paper_id=pid, title=cat.by_id[pid].title, arxiv_id=None, authors=[], url=None, abstract="",
                      snippet="", score=1.0) for n, pid in enumerate(ids, 1)]  # fmt: skip
    answer = Answer(question="q", answer="Quoted sentence. [1] Another one. [2] A third. [3]", refused=False,
                    mode="extractive", citations=cited)  # fmt: skip
    turn = Message.from_answer(answer)
    assert turn.role == "assistant" and turn.papers == ids
    history = [Message(role="user", content="Which papers study X?"), turn]
    a = understander.analyse("who wrote the second one?", history)
    assert a.followup and a.paper == ids[1] and a.intent == "paper_fact"
    # bounds keep them (rag/limits.py rebuilds each message to clean its text)
    assert Limits(Settings()).history(history)[1].papers == ids
    # a text-only turn is read for titles, as before; unknown ids are ignored
    named = Message(role="assistant", content=f'See "{cat.by_id[ids[2]].title}".', papers=["p-unknown"])
    assert understander.analyse("who wrote it?", [named]).paper == ids[2]


def test_a_reply_names_a_paper_by_its_quoted_head_its_spelt_out_name_or_its_id(understander: Understander) -> None:
    """A chat reply written by another client names papers loosely: "'Debate or Vote' finds ...", "KARD
    (Knowledge-Augmented Reasoning Distillation) fine-tunes ...", "(p7997112d0)". A follow-up asks about that paper."""
    cat = understander.catalog
    papers = [p for p in cat.iter_papers() if not p.title_derived]
    folded = [fold(p.title) for p in papers]

    def unique_head(p: Paper) -> str | None:
        head = p.title.partition(":")[0].strip()
        fh = fold(head)
        if ":" not in p.title or len(fh.split()) < 3 or sum(t == fh or t.startswith(fh + " ") for t in folded) != 1:
            return None
        return head

    paper, head = next((p, h) for p in papers if (h := unique_head(p)))
    opening = " ".join(paper.title.split()[:4])
    for reply in [f"Yes, '{head}' studies this.", f"Yes: NAME ({opening}) does.", f"See {paper.paper_id} for it."]:
        turn = Message(role="assistant", content=reply)
        a = understander.analyse("Which benchmarks did they evaluate it on?", [turn])
        assert a.followup and a.pinned == [paper.paper_id], reply
    # two words in quotes, or a head several titles start with, name nothing
    two = " ".join(head.split()[:2])
    assert not understander.analyse("what did it find?", [Message(role="assistant", content=f"'{two}' ...")]).pinned
    shared, n = Counter(" ".join(t.split()[:3]) for t in folded).most_common(1)[0]
    assert n > 1  # the corpus has titles opening alike ("Large Language Models ...")
    reply = Message(role="assistant", content=f"Yes, '{shared}' do.")
    assert not understander.analyse("what did it find?", [reply]).pinned


def test_a_continuation_without_a_reference_to_papers_continues_the_question_not_the_papers(
    understander: Understander,
) -> None:
    """After an answer (here a refusal offering related reading), "and for pizza?" asks the previous question of a
    new subject: the papers shown are not what it is about, so they are neither searched nor boosted."""
    cat = understander.catalog
    shown = [p.paper_id for p in list(cat.iter_papers())[:3]]
    history = [Message(role="user", content="What is a good recipe for lasagna?"),
               Message(role="assistant", content="No paper in the corpus mentions lasagna.", papers=shown)]  # fmt: skip
    a = understander.analyse("and for pizza?", history)
    assert a.followup and not a.pinned and not a.of_kind("paper", confident=False)
    assert a.standalone == "and for pizza? (What is a good recipe for lasagna?)"
    a = understander.analyse("and when was the first one published?", history)
    assert a.followup and a.paper == shown[0] and a.fact == "date"


def test_an_entity_lists_at_most_a_hundred_papers_in_output_and_says_how_many() -> None:
    """A year of a million papers is ~100k ids: in process the entity keeps them all (retrieval filters by them);
    its JSON (`rag search --json`, the HTTP API) lists the first ENTITY_IDS_SHOWN and the count (1.3 MB -> a few KB)."""
    ids = [f"p{i:06d}" for i in range(250)]
    period = Entity(kind="period", name="2017", value="2017", confidence=1.0, paper_ids=ids, text="2017")
    shown = json.loads(period.model_dump_json())
    assert shown["paper_ids"] == ids[:ENTITY_IDS_SHOWN] and shown["paper_count"] == 250
    analysis = QueryAnalysis(question="q", standalone="q", entities=[period])
    assert period.paper_ids == ids and len(analysis.model_dump()["entities"][0]["paper_ids"]) == ENTITY_IDS_SHOWN


# (question, order asked, count asked, topic): papers by date or how many, with the trigger words used otherwise.
BY_DATE_OR_COUNT = [
    ("What is the most recent paper on diffusion models?", "newest", False, "diffusion models"),
    ("latest papers about reinforcement learning", "newest", False, "reinforcement learning"),
    ("newest work on length generalization?", "newest", False, "length generalization"),
    ("Which paper on calibration is the newest?", "newest", False, "calibration"),
    ("list the diffusion papers, newest first", "newest", False, "diffusion"),
    ("diffusion papers in reverse chronological order", "newest", False, "diffusion"),
    ("What did Hattie Zhou publish most recently?", "newest", False, ""),
    ("the three latest papers on watermarking", "newest", False, "watermarking"),
    ("Which is the oldest paper in the corpus?", "oldest", False, ""),
    ("earliest study of score-based generative models", "oldest", False, "score based generative models"),
    ("list papers on transformers from oldest to newest", "oldest", False, "transformers"),
    ("RL papers in chronological order", "oldest", False, "rl"),
    ("which paper came out first?", "oldest", False, ""),
    ("How many papers are about diffusion models?", None, True, "diffusion models"),
    ("how many papers are in the corpus?", None, True, ""),
    ("what's the number of papers on reinforcement learning", None, True, "reinforcement learning"),
    ("count the papers on watermarking", None, True, "watermarking"),
    ("How many studies does the corpus have on calibration?", None, True, "calibration"),
    # The same words asking for something else: findings, an origin, a detail of one paper, a count it states.
    ("What are the latest findings on length generalization?", None, False, "findings length generalization"),
    ("the latest advances in RLHF", None, False, "advances rlhf"),
    ("What was the first paper to propose classifier-free guidance?", None, False, "propose classifier free guidance"),
    ("How many papers does the survey of diffusion models for medical image analysis cover?", None, False,
     "survey diffusion models medical image analysis"),
    ("how many GPUs were used to train SliM-LLM?", None, False, "gpus used train slim llm"),
    ("which recent methods reduce hallucination?", None, False, "methods reduce hallucination"),
    ("what are the most recent models for protein folding?", None, False, "most models protein folding"),
]


@pytest.mark.parametrize(("question", "order", "count", "topic"), BY_DATE_OR_COUNT, ids=lambda x: str(x)[:50])
def test_papers_asked_by_date_or_counted(
    understander: Understander, question: str, order: str | None, count: bool, topic: str
) -> None:
    a = understander.analyse(question)
    assert (a.order, a.count, a.topic) == (order, count, topic), a.rule
    assert a.detail is None or not count  # "how many papers" on a topic is a count, not a detail the abstracts lack


def test_by_date_refers_back_only_without_a_new_subject(understander: Understander) -> None:
    history = [
        Message(role="user", content="Which papers study length generalization?"),
        Message(role="assistant", content='"What Algorithms can Transformers Learn? A Study in Length Generalization" '
                '[1] and "To Infinity and Beyond: Tool-Use Unlocks Length Generalization in State Space Models" [2].'),
    ]  # fmt: skip
    new = understander.analyse("What is the latest paper on diffusion models?", history)
    assert not new.followup and new.order == "newest" and new.topic == "diffusion models" and not new.pinned
    among = understander.analyse("Which of them is the newest?", history)
    assert among.followup and among.order == "newest" and len(among.pinned) == 2


@pytest.mark.parametrize(
    ("question", "facts"),
    [
        ("Where can I find the paper on FlashAttention?", ["arxiv_id"]),
        ("where can i download it?", ["arxiv_id"]),
        ("What's the arXiv link for the TarFlow paper?", ["arxiv_id"]),
        # where to read about a subject asks for papers, not for one paper's link
        ("Where can I find an overview of the ways LLMs emit several tokens at once?", []),
        ("Where can I read about diffusion models for audio?", []),
    ],
)
def test_where_to_find_a_paper_asks_for_its_link_where_to_read_about_a_topic_does_not(
    question: str, facts: list[str]
) -> None:
    assert facts_asked(question) == facts


@pytest.mark.parametrize(
    "question",
    [
        "In the VQToken paper, how much accuracy is lost on NextQA-MC?",
        "How much accuracy is lost on NextQA-MC in the VQToken paper?",
    ],
)
def test_a_paper_cited_by_one_of_its_names_is_not_missing_whichever_name_comes_first(
    understander: Understander, question: str
) -> None:
    """Both names are the one paper's; the entity shows the first, and the other cited ("the VQToken paper") is not a
    paper the corpus lacks. The names are read in the question's order, so the answer is the same on every run."""
    a = understander.analyse(question, [])
    paper = next(e for e in a.entities if e.kind == "paper" and e.confidence >= CONFIDENT)
    assert paper.name.startswith("Neural Discrete Token Representation")
    assert a.unknown_title is None
    assert paper.text == ("VQToken" if question.index("VQToken") < question.index("NextQA") else "NextQA-MC")


@pytest.mark.parametrize(
    ("text", "topic"),
    [("Why create math questions, given there aren't enough of them?", "create math questions given enough"),
     ("Why won't the model's loss drop, and can't we fix it?", "model loss drop fix"),
     ("I'd like papers we've not read on pruning", "like not read pruning")],
)  # fmt: skip
def test_a_contraction_leaves_no_subject_word(text: str, topic: str) -> None:
    """"aren't" folded would leave "aren", a word no paper writes: the question was refused as missing it."""
    assert topic_of(text, []) == topic
