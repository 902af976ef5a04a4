"""Citation verification on real abstracts from the corpus (title + abstract, as the answerer passes them).

The sources deliberately share a topic (length generalization), like a real retrieval result, so
telling them apart takes more than one common word.
"""

from __future__ import annotations

import time

import pytest

from rag.citations import Verified, verify_citations
from rag.prompts import REFUSAL_MARKER

RASP = (
    "What Algorithms can Transformers Learn? A Study in Length Generalization. Large language models exhibit "
    "surprising emergent generalization properties, yet also struggle on many simple reasoning tasks such as "
    "arithmetic and parity. This raises the question of if and when Transformer models can learn the true algorithm "
    "for solving a task. We study the scope of Transformers' abilities in the specific setting of length "
    "generalization on algorithmic tasks. Here, we propose a unifying framework to understand when and how "
    "Transformers can exhibit strong length generalization on a given task. Specifically, we leverage RASP (Weiss et "
    "al., 2021) -- a programming language designed for the computational model of a Transformer -- and introduce "
    "the RASP-Generalization Conjecture: Transformers tend to length generalize on a task if the task can be solved "
    "by a short RASP program which works for all input lengths. This simple conjecture remarkably captures most "
    "known instances of length generalization on algorithmic tasks. Moreover, we leverage our insights to "
    "drastically improve generalization performance on traditionally hard tasks (such as parity and addition)."
)
SSM = (
    "To Infinity and Beyond: Tool-Use Unlocks Length Generalization in State Space Models. State Space Models "
    "(SSMs) have become the leading alternative to Transformers for sequence modeling. Their primary advantage is "
    "efficiency in long-context and long-form generation, enabled by fixed-size memory and linear scaling of "
    "computational complexity. We begin this work by showing a simple theoretical result stating that SSMs cannot "
    "accurately solve any truly long-form generation problem, undermining their main competitive advantage. "
    "However, we show that this limitation can be mitigated by allowing SSMs interactive access to external tools. "
    "Following our theoretical finding, we demonstrate that tool-augmented SSMs achieve remarkable length "
    "generalization on a variety of arithmetic, reasoning, and coding tasks."
)
LOCAL = (
    "Local Mechanisms of Compositional Generalization in Conditional Diffusion. Conditional diffusion models appear "
    "capable of compositional generalization, i.e., generating convincing samples for out-of-distribution "
    "combinations of conditioners, but the mechanisms underlying this ability remain unclear. To make this concrete, "
    "we study length generalization, the ability to generate images with more objects than seen during training. "
    "In a controlled CLEVR setting (Johnson et al., 2017), we find that length generalization is achievable in some "
    "cases but not others, suggesting that models only sometimes learn the underlying compositional structure. We "
    "validate our theory empirically: CLEVR models that succeed at length generalization exhibit local conditional "
    "scores, while those that fail do not. Furthermore, we show that a causal intervention explicitly enforcing "
    "local conditional scores restores length generalization in a previously failing model."
)
ROPE = (
    "Extending Context Window of Large Language Models from a Distributional Perspective. Scaling the rotary "
    "position embedding (RoPE) has become a common method for extending the context window of RoPE-based large "
    "language models (LLMs). In this paper, we propose to optimize the context window extending task from the view "
    "of rotary angle distribution. Then, we present a novel extension strategy that minimizes the disturbance "
    "between rotary angle distributions to maintain consistency with the pre-training phase. Experimental results "
    "demonstrate that our approach reduces by up to 72% of the distributional disturbance when extending LLaMA2's "
    "context window to 8k, and reduces by up to 32% when extending to 16k."
)
DRAGON = (
    "DRAGON: Distributional Rewards Optimize Diffusion Generative Models. We present Distributional RewArds for "
    "Generative OptimizatioN (DRAGON), a versatile framework for fine-tuning media generation models towards a "
    "desired outcome. Compared with traditional reinforcement learning with human feedback (RLHF) or pairwise "
    "preference approaches such as direct preference optimization (DPO), DRAGON is more flexible. For evaluation, we "
    "fine-tune an audio-domain text-to-music diffusion model with 20 different reward functions. Over all 20 target "
    "rewards, DRAGON achieves an 81.45% average win rate."
)
SOURCES = [RASP, SSM, LOCAL, ROPE, DRAGON]


def check(text: str) -> Verified:
    return verify_citations(text, SOURCES)


# -- correct answers pass untouched -------------------------------------------------------------------
def test_correct_cited_answer_is_unchanged() -> None:
    text = (
        "Transformers tend to length generalize when a task can be solved by a short RASP program [1]. "
        "State space models reach length generalization once they can call external tools [2]."
    )
    v = check(text)
    assert v == Verified(text=text, cited=[1, 2], warnings=[], refused=False)


@pytest.mark.parametrize(
    ("sentence", "source"),
    [
        ("The RASP-Generalization Conjecture explains most known cases of length generalization on parity.", 1),
        ("SSMs on their own cannot solve truly long-form generation problems.", 2),
        ("Giving SSMs interactive access to tools mitigates this limitation for arithmetic and coding.", 2),
        ("Models that generalize to more objects exhibit local conditional scores.", 3),
        ("Enforcing locality restores length generalization in a model that previously failed.", 3),
        ("Minimizing the disturbance of the rotary angle distribution extends the context window of LLMs.", 4),
        ("It cuts the distributional disturbance by up to 72% when LLaMA2 is extended to 8k tokens.", 4),
        ("DRAGON fine-tunes media generation models and is more flexible than RLHF or DPO.", 5),
        ("Across 20 target rewards it reaches an 81.45% average win rate.", 5),
    ],
)
def test_faithful_paraphrase_keeps_its_citation(sentence: str, source: int) -> None:
    v = check(f"{sentence[:-1]} [{source}].")
    assert v.cited == [source] and v.warnings == []
    assert v.text == f"{sentence[:-1]} [1]."


# -- bogus, wrong and missing markers ---------------------------------------------------------------------
def test_out_of_range_marker_is_removed_with_warning() -> None:
    v = check("Transformers length generalize on tasks solved by short RASP programs [1][9].")
    assert v.text == "Transformers length generalize on tasks solved by short RASP programs [1]."
    assert v.cited == [1]
    assert v.warnings == ["removed citation [9]: only 5 sources were provided"]


def test_sentence_whose_only_marker_is_bogus_gets_the_supporting_source() -> None:
    v = check("SSMs cannot solve truly long-form generation problems without external tools [7].")
    assert v.text == "SSMs cannot solve truly long-form generation problems without external tools [1]."
    assert v.cited == [2]
    assert v.warnings == ["removed citation [7]: only 5 sources were provided"]


def test_markers_are_renumbered_in_order_of_first_appearance() -> None:
    v = check(
        "Rotary angle distributions guide context window extension for LLMs [4]. "
        "DRAGON optimizes distributional rewards for music diffusion models [5]. "
        "RoPE scaling reduced the distributional disturbance by up to 72% [4]."
    )
    assert v.text == (
        "Rotary angle distributions guide context window extension for LLMs [1]. "
        "DRAGON optimizes distributional rewards for music diffusion models [2]. "
        "RoPE scaling reduced the distributional disturbance by up to 72% [1]."
    )
    assert v.cited == [4, 5] and v.warnings == []


def test_marker_on_the_wrong_source_is_repaired() -> None:
    v = check("Transformers length-generalize when the task has a short RASP program [2].")
    assert v.text == "Transformers length-generalize when the task has a short RASP program [1]."
    assert v.cited == [1]
    assert len(v.warnings) == 1 and v.warnings[0].startswith("replaced citation [2] with [1]: source 2 does not")


def test_unsupported_marker_is_removed_when_no_source_supports_the_sentence() -> None:
    v = check("Transformers need RASP programs [1]. Bananas are rich in potassium and fibre [3].")
    assert v.text == "Transformers need RASP programs [1]. Bananas are rich in potassium and fibre."
    assert v.cited == [1]
    assert v.warnings == ['removed citation [3]: source 3 does not support "Bananas are rich in potassium and fibre."']


@pytest.mark.parametrize(
    "sentence",
    [
        "The model was trained on ImageNet and achieves 95% top-1 accuracy",
        "Graph neural networks can predict protein folding structures",
        "Mixed integer linear programming is a fundamental tool for combinatorial optimization",
        "Vanishing gradients in reinforcement finetuning arise when the reward standard deviation is small",
    ],
)
def test_unrelated_sentence_loses_its_citation(sentence: str) -> None:
    for n in range(1, 6):
        v = check(f"{sentence} [{n}].")
        assert v.cited == [] and v.text == f"{sentence}.", (n, v)
        assert v.warnings[0].startswith(f"removed citation [{n}]: source {n} does not support")


def test_uncited_claim_gets_the_source_that_clearly_supports_it() -> None:
    v = check("RASP programs explain length generalization [1]. Tool-augmented SSMs achieve length generalization.")
    assert v.text == (
        "RASP programs explain length generalization [1]. Tool-augmented SSMs achieve length generalization [2]."
    )
    assert v.cited == [1, 2] and v.warnings == []


def test_uncited_unsupported_claim_is_kept_with_a_warning() -> None:
    text = "RASP programs explain length generalization [1]. The method was deployed in hospitals across Europe."
    v = check(text)
    assert v.text == text and v.cited == [1]
    assert v.warnings == ["uncited claim: The method was deployed in hospitals across Europe."]


def test_sentences_that_claim_nothing_need_no_citation() -> None:
    text = (
        "## Length generalization\n"
        "Here is what the papers say:\n"
        "Which setting do you care about?\n"
        "The sources do not say which optimizer was used."
    )
    assert check(text) == Verified(text=text, cited=[], warnings=[], refused=False)


def test_sentence_naming_only_authors_keeps_its_citation() -> None:
    # Source texts hold no author list, so nothing here can be checked: trust the model.
    v = check("It was written by Hattie Zhou, Arwen Bradley and Etai Littwin [1].")
    assert v.cited == [1] and v.warnings == []


# -- marker forms -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("markers", "expected"),
    [
        ("[1, 2]", "[1][2]"),
        ("[1][2]", "[1][2]"),
        ("[1; 2]", "[1][2]"),
        ("[1-2]", "[1][2]"),
        ("[1–2]", "[1][2]"),
        ("【1】【2】", "[1][2]"),
        ("［１，２］", "[1][2]"),
        ("[1][1][2]", "[1][2]"),
        ("[1, 1, 2, 2]", "[1][2]"),
    ],
)
def test_marker_forms_are_normalised(markers: str, expected: str) -> None:
    claim = "Both Transformers with RASP programs and SSMs with tools achieve length generalization"
    v = check(f"{claim} {markers}.")
    assert v.text == f"{claim} {expected}."
    assert v.cited == [1, 2] and v.warnings == []


def test_range_marker_over_a_list_keeps_every_part() -> None:
    v = check("Length generalization was studied via RASP programs, tool use for SSMs and local scores [1-3].")
    assert v.text.endswith("local scores [1][2][3].") and v.cited == [1, 2, 3]


def test_each_marker_is_judged_on_its_own_clause() -> None:
    v = check(
        "Length generalization was studied for Transformers via RASP programs [1], "
        "for SSMs with tool use [2], and for music diffusion models with distributional rewards [3]."
    )
    assert v.text.endswith("tool use [2], and for music diffusion models with distributional rewards [3].")
    assert v.cited == [1, 2, 5]
    assert len(v.warnings) == 1 and v.warnings[0].startswith("replaced citation [3] with [5]")


def test_marker_after_the_full_stop_belongs_to_its_sentence() -> None:
    v = check("Transformers generalize when a short RASP program exists. [1] SSMs need tool use for it. [2]")
    assert v.text == "Transformers generalize when a short RASP program exists. [1] SSMs need tool use for it. [2]"
    assert v.cited == [1, 2] and v.warnings == []


def test_abbreviations_do_not_split_sentences() -> None:
    v = check("Arithmetic tasks, e.g. parity and addition, become solvable by short RASP programs [1].")
    assert v.cited == [1] and v.warnings == []


def test_list_answer() -> None:
    v = check(
        "Papers on length generalization:\n"
        "- **What Algorithms can Transformers Learn?**: the RASP-Generalization Conjecture [3]\n"
        "- **To Infinity and Beyond**: tool use for state space models [2]\n"
    )
    assert v.cited == [1, 2]
    assert "Conjecture [1]\n" in v.text and "state space models [2]\n" in v.text
    assert v.warnings[0].startswith("replaced citation [3] with [1]")


# -- refusals ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", [REFUSAL_MARKER, f"  {REFUSAL_MARKER}.", f"**{REFUSAL_MARKER}**", f"{REFUSAL_MARKER}\nNo source covers it."]
)
def test_refusal_marker_is_detected(text: str) -> None:
    v = check(text)
    assert v.refused and v.cited == [] and v.warnings == []


def test_refusal_marker_inside_an_answer_is_not_a_refusal() -> None:
    v = check(f"RASP programs explain length generalization [1], so the answer is not '{REFUSAL_MARKER}'.")
    assert not v.refused and v.cited == [1]


# -- robustness -------------------------------------------------------------------------------------------------------
def test_no_sources_removes_every_marker() -> None:
    v = verify_citations("RASP programs explain length generalization [1].", [])
    assert v.text == "RASP programs explain length generalization." and v.cited == []
    assert v.warnings == ["removed citation [1]: no sources were given"]


def test_empty_answer() -> None:
    assert verify_citations("", SOURCES) == Verified(text="", cited=[], warnings=[], refused=False)


def test_deterministic_and_fast() -> None:
    sources = SOURCES * 2  # ten sources, as with a large k
    answer = " ".join(
        f"{s.split('. ')[1]} [{i % 12 + 1}]." for i, s in enumerate(SOURCES * 3)
    )  # first sentences, some cited wrongly, some out of range
    t0 = time.perf_counter()
    first = verify_citations(answer, sources)
    elapsed = time.perf_counter() - t0
    assert verify_citations(answer, sources) == first
    assert elapsed < 0.5
