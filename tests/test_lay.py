"""The everyday-words table (rag/lay.py): what a lay phrasing stands for, and technical phrasings that must not
trigger a row (a word shared with everyday speech: "dynamic programming", "training tricks"). No index needed."""

from __future__ import annotations

import pytest

from rag.lay import LAY_TERMS, lay_reading, lay_terms
from rag.understand import Understander
from tests.test_understand import catalog_understander

# (question, a term that must be among the terms found)
STANDS_FOR = [
    ("Why do chatbots make things up?", "hallucination"),
    ("Why do chatbots make things up?", "large language models"),
    ("Can an AI assistant be fooled into saying dangerous things?", "large language models"),
    ("How do picture-making AIs learn what people like?", "image generation models"),
    ("How do picture-making AIs learn what people like?", "human preference alignment reward model RLHF"),
    ("Image generators that start from pure static: how do they work?", "denoising diffusion models"),
    ("Do thinking models overthink easy questions?", "reasoning models chain-of-thought"),
    ("Can an AI's hidden thoughts be read?", "chain-of-thought latent reasoning"),
    ("Models that route each word to one of many specialists: do they waste memory?", "mixture of experts"),
    ("Can a small student model copy a big one?", "knowledge distillation"),
    ("Ways to shrink a chatbot so it runs on a phone", "model compression pruning quantization distillation"),
    ("Ways to shrink a chatbot so it runs on a phone", "efficient inference"),
    ("Storing the weights with fewer bits", "quantization"),
    ("Learning by trial and error in a game", "reinforcement learning"),
    ("An agent that has only recorded data and can never try things out", "offline reinforcement learning"),
    ("Does the model forget what it learned before?", "catastrophic forgetting continual learning"),
    ("Learning from photos without any labels", "self-supervised unsupervised learning"),
    ("Can you trick the chatbot into breaking its rules?", "jailbreak adversarial attacks red-teaming safety"),
    ("How can teachers tell if an essay was written by AI?", "detecting machine-generated text watermarking"),
    ("Training on people's private messages safely", "differential privacy"),
    ("Does the hiring algorithm treat groups fairly?", "fairness bias"),
    ("Can we look inside the model and see what it computes?", "mechanistic interpretability"),
    ("Does the model know when it is wrong?", "uncertainty calibration"),
    ("Spotting fake photos online", "deepfake detection image forensics"),
    ("Did the model cheat on the test because it saw the test questions?", "data contamination benchmark"),
    ("Chatbots that look things up before they answer", "retrieval-augmented generation"),
    ("Can it read a whole book at once?", "long context"),
    ("Does it work on problems longer than it saw in training?", "length generalization"),
    ("How adventurous or cautious its word choices are", "decoding sampling temperature"),
    ("A cheaper model drafts several words at once", "speculative decoding"),
    ("A text model that can fill in the blanks in any order", "masked language modeling"),
    ("Can AI solve math olympiad problems?", "mathematical reasoning"),
    ("An AI that writes computer programs", "code generation"),
    ("Predicting tomorrow's weather with AI", "weather forecasting"),
    ("Reading chest x-rays with AI", "medical clinical"),
    ("Who was the first person to catch the bug in an outbreak?", "epidemic contagion"),
    ("How do newborn stars feed?", "astrophysics astronomy"),
    ("Marketplaces where buyers outnumber sellers", "markets mechanism design auctions"),
    ("Will advanced AI assistants quietly cover it up?", "deception scheming"),
    ("Can an AI check its own answers?", "self-verification self-correction"),
    ("Telling that a photo shows something it was never taught about", "out-of-distribution detection generalization"),
    ("How big is the electricity bill of training?", "energy efficiency compute cost"),
]

# Technical or everyday phrasings that share a word with a row but do not mean it: nothing may be added.
TECHNICAL = [
    "Which papers use dynamic programming for planning?",
    "What training tricks stabilise GAN training?",
    "Which papers study image generation with diffusion models?",
    "What is the arXiv id of the TarFlow paper?",
    "Who wrote the paper on length generalization in state space models?",
    "Which 2024 papers are about graph neural networks?",
    "How does GRPO differ from PPO?",
    "What datasets were used to evaluate SliM-LLM?",
    "Papers about the Plutinos of the Kuiper belt",
    "Which papers propose new attention mechanisms?",
    "How is the makeup of the training mixture chosen?",
    "What does the corpus say about sampling from energy-based models?",
    "Does label smoothing improve calibration?",
    "Which papers cite the Bradley-Terry model?",
    # an everyday word in another sense: superconductors carry electricity, genetic algorithms are no genomics,
    # a forecast is any prediction, grad-school homework is a benchmark
    "Materials that carry electricity with zero resistance",
    "Deep learning and genetic algorithms for cosmology",
    "Forecasting time series with transformers",
    "Grad-school physics homework for AI models",
    "Trading off accuracy for speed at inference",
    "Does majority voting over sampled answers help?",
    "Polish language models",
    # the terms are already there: nothing to add
    "methods for detecting hallucinations in large language models",
    "Does fine-tuning on instruction tuning data help?",
]


def test_the_table_is_readable_and_big_enough() -> None:
    assert len(LAY_TERMS) >= 60
    assert all(terms == terms.strip() and terms for _, terms in LAY_TERMS)


@pytest.mark.parametrize(("question", "term"), STANDS_FOR, ids=lambda x: str(x)[:40])
def test_an_everyday_phrasing_stands_for_the_term(question: str, term: str) -> None:
    assert term in lay_terms(question)


@pytest.mark.parametrize("question", TECHNICAL, ids=lambda x: str(x)[:40])
def test_a_technical_phrasing_adds_nothing(question: str) -> None:
    assert lay_terms(question) == []


@pytest.mark.parametrize(
    ("question", "words"),
    [("Can a chatbot's answers be trusted?", ["chatbot"]),
     ("Do picture generators copy their training images?", ["picture", "generators"]),
     ("Why do chatbots make things up?", ["chatbots", "make", "things", "up"]),
     ("Which papers study speculative decoding for transformers?", [])],  # technical: no stand-in
)  # fmt: skip
def test_the_everyday_words_a_row_translates_are_read_in_the_same_pass(question: str, words: list[str]) -> None:
    terms, stand_ins = lay_reading(question)
    assert stand_ins == words and terms == lay_terms(question)


@pytest.fixture(scope="module")
def understander() -> Understander:
    return catalog_understander()


def test_the_terms_travel_on_the_analysis_of_what_dense_search_ranks(understander: Understander) -> None:
    a = understander.analyse("Why do chatbots make things up?")
    assert a.intent == "topical" and a.lay_terms == ["large language models", "hallucination"]
    # A name with a topic: the topic ranks her papers, so its everyday words count; her name is not a topic.
    a = understander.analyse("Did Hattie Zhou write anything about picture generators?")
    assert a.intent == "list_by_author" and a.lay_terms == ["image generation models"]
    assert understander.analyse("What is the arXiv id of TarFlow?").lay_terms == []


def test_a_generic_title_phrase_names_no_paper(understander: Understander) -> None:
    """'large language models into smaller' quotes four words of "Distilling Large Language Models into Small for
    Sequential Recommendation" and the head of "Large Language Models: The Need for Nuance ...", words hundreds of
    titles use; "direct nash optimization" quotes a title with a word few titles use."""
    a = understander.analyse("Is there a survey of ways to compress large language models into smaller ones?")
    assert not a.of_kind("paper"), a.entities
    a = understander.analyse("What does the paper on debate or vote in multi-agent systems find?")
    assert [understander.catalog.by_id[e.value].title[:14] for e in a.of_kind("paper")] == ["Debate or Vote"]
