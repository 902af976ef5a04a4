"""Which phrase a question cites a paper by (rag.understand.cited_title): a table, no index needed. Whether the
corpus has that paper is decided against the catalog afterwards."""

from __future__ import annotations

import pytest

from rag.understand import cited_name, cited_title

# (question, a paper fact is asked, the title cited or None)
CASES = [
    ("Who wrote Attention Is All You Need?", True, "Attention Is All You Need"),
    (
        "When was Deep Residual Learning for Image Recognition published?",
        True,
        "Deep Residual Learning for Image Recognition",
    ),
    ("Who are the authors of Language Models are Few-Shot Learners?", True, "Language Models are Few-Shot Learners"),
    (
        'When was "Deep Residual Learning for Image Recognition" published?',
        True,
        "Deep Residual Learning for Image Recognition",
    ),
    (
        'What does the paper "Denoising Diffusion Probabilistic Models" propose?',
        False,
        "Denoising Diffusion Probabilistic Models",
    ),
    (
        "What is the paper titled “Scaling Laws for Neural Language Models” about?",
        False,
        "Scaling Laws for Neural Language Models",
    ),
    ('what is the arxiv id of "Generative Adversarial Nets"?', True, "Generative Adversarial Nets"),
    # a paper word or a summary request before a Title-Case run of four words or more, quoted or not
    (
        "Summarize the paper BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        False,
        "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
    ),
    ("What does the paper Language Models are Few-Shot Learners show?", False, "Language Models are Few-Shot Learners"),
    (
        "Summarize ImageNet Classification with Deep Convolutional Neural Networks",
        False,
        "ImageNet Classification with Deep Convolutional Neural Networks",
    ),
    ("Summarize Stable Diffusion XL improvements", False, None),
    ("Summarize the paper on diffusion models", False, None),
    # a run of four words or more that the question asks what it proposes or shows, quoted or not
    (
        'What does "GloVe: Global Vectors for Word Representation" propose?',
        False,
        "GloVe: Global Vectors for Word Representation",
    ),
    (
        "What does Deep Residual Learning for Image Recognition propose?",
        False,
        "Deep Residual Learning for Image Recognition",
    ),
    ("What does Direct Nash Optimization propose?", False, None),  # three words: a method's name
    ('Which papers extend "Proximal Policy Optimization Algorithms"?', False, None),
    # the question's opening is not part of the title; digits inside a title are
    (
        "Is the You Only Look Once: Real-Time Object Detection paper on arXiv?",
        True,
        "You Only Look Once: Real-Time Object Detection",
    ),
    (
        "Who wrote An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale?",
        True,
        "An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale",
    ),
    ("What Is The Arxiv Id Of TarFlow?", True, None),
    (
        "When was A Flexible Diffusion Model for Everything published?",
        True,
        "A Flexible Diffusion Model for Everything",
    ),
    # not a title: no fact asked and no paper word before a quote
    ("Which papers use Stable Diffusion XL?", False, None),
    ('What does the corpus say about "in-context learning"?', False, None),
    ("How does Direct Nash Optimization compare with DPO?", False, None),
    # a fact asked, but the capitalised run is people, a short name or the question's own words
    ("When was the Mamba paper by Albert Gu and Tri Dao published?", True, None),  # people; "Mamba" is a name, below
    ("Who wrote TarFlow?", True, None),
    ("WHO WROTE TARFLOW?", True, None),
    ('Who wrote "TarFlow"?', True, None),  # one word: a name, found among the papers if any has it
    (
        "When was the paper on Large Language Model calibration published?",
        True,
        None,
    ),  # "on" + a capitalised run: a subject, not a title
    # a lower-case "does" inverts a question ("... over SimCLR on ImageNet does Loki report"); titles capitalise it
    ("What relative improvement over SimCLR on ImageNet does Loki report when it swaps argmax?", False, None),
]


@pytest.mark.parametrize(("question", "facts", "title"), CASES)
def test_the_title_a_question_cites(question: str, facts: bool, title: str | None) -> None:
    assert cited_title(question, facts) == title


# (question, the name it cites one paper by, or None)
NAMES = [
    ("What is the arXiv id of the GPT-3 paper?", "GPT-3"),
    ("What does the Llama 2 paper propose?", "Llama 2"),
    ("Summarize the GPT-3 paper.", "GPT-3"),
    ("Give me a summary of the Stable Diffusion paper.", "Stable Diffusion"),
    ("When was the Mamba paper by Albert Gu and Tri Dao published?", "Mamba"),
    ("Which papers cite the BERT paper?", None),  # asks for other papers
    ("What does the paper on diffusion models propose?", None),
    ("Who wrote the first paper?", None),
]


@pytest.mark.parametrize(("question", "name"), NAMES)
def test_the_name_a_question_cites_a_paper_by(question: str, name: str | None) -> None:
    assert cited_name(question) == name
