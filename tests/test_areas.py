"""Application areas named by a question and left out by the papers found (rag/areas.py). No index needed."""

from __future__ import annotations

import pytest

from rag.areas import AREAS, areas_missing

DISTILLATION = "Knowledge distillation transfers what a large teacher model knows to a small student model."


@pytest.mark.parametrize(
    ("topic", "texts", "missing"),
    [
        # a method the papers cover, joined to an area none of them mentions
        ("knowledge distillation object detection models", [DISTILLATION], ["object detection"]),
        ("mixture experts models time series forecasting", ["Mixture-of-experts language models route tokens."],
         ["time series"]),
        ("graph neural networks predicting molecular properties", ["Graph neural networks on social networks."],
         ["molecules"]),
        ("speech recognition word error rates", ["Large language models make reasoning errors."],
         ["speech", "word error rate"]),
        ("predict crop yields satellite images", ["Satellite images reveal poverty."], ["agriculture"]),
        ("diffusion models segmentation", ["Diffusion models generate images."], ["segmentation"]),
        ("reinforcement learning self-driving cars", ["Reinforcement learning agents learn policies."],
         ["autonomous driving"]),
        # one paper found mentions the area, in any of the area's words
        ("knowledge distillation object detection", [DISTILLATION, "We distil object detectors."], []),
        ("voice assistants", ["Automatic speech recognition in the wild."], []),
        ("time series", ["We forecast demand from past sales."], []),
        ("reinforcement learning self-driving cars", ["Reinforcement learning for autonomous vehicles."], []),
        # no area named: a whole word, not a part of one
        ("diffusion models image generation", ["Diffusion models generate images."], []),
        ("healing scars", [], []),
        ("hard drive failures", [], []),
        ("knowledge distillation", [], []),
        # the whole field's tasks (the second table): named in the question's words, found in the papers' own
        ("recognizing sign language video transformers", ["Video transformers for action clips."], ["sign language"]),
        ("methods best detecting sarcasm tweets", ["Detecting jailbreak prompts."], ["sarcasm", "social media"]),
        ("deep networks estimate optical flow video frames", ["Video diffusion models."], ["optical flow"]),
        ("estimating human body pose single images", ["Single-image super-resolution."], ["pose estimation"]),
        ("neural network pick earthquake signals seismograph", ["Signals in state space models."], ["seismology"]),
        ("estimating human body pose single images", ["We estimate 3D human pose from one image."], []),
        ("translating sign-language videos text", ["A model for sign language translation."], []),
        # techniques and named tasks (the third table)
        ("membership inference attacks fine-tuned language models",
         ["Differentially private fine-tuning of language models."], ["membership inference"]),
        ("monte carlo dropout trustworthy uncertainty", ["Calibration of language models."], ["monte carlo dropout"]),
        ("label smoothing teacher hurt distillation", [DISTILLATION], ["label smoothing"]),
        ("label smoothing teacher hurt distillation", [DISTILLATION, "Label smoothing makes teachers worse."], []),
        ("knowledge tracing predicting student answers", ["Language models grade essays."], ["knowledge tracing"]),
        ("machine unlearning recommender systems", ["Recommender systems with LLMs."], ["machine unlearning"]),
    ],
)  # fmt: skip
def test_an_area_the_question_names_and_no_paper_found_mentions(
    topic: str, texts: list[str], missing: list[str]
) -> None:
    assert areas_missing(topic, texts) == missing


def test_an_area_already_named_missing_by_one_of_its_words_is_not_named_again() -> None:
    assert areas_missing("predict crop yields", [], named=["crop"]) == []
    assert areas_missing("predict crop yields", [], named=["yields"]) == []
    assert areas_missing("predict crop yields satellite images", [], named=["crop"]) == ["satellite imagery"]


def test_two_areas_are_named_in_table_order() -> None:
    assert areas_missing("speech object detection", []) == ["object detection", "speech"]
    assert [name for name, _ in AREAS][:2] == ["object detection", "autonomous driving"]


@pytest.mark.parametrize(
    "words",
    [
        "large language models chatbots", "images pictures photos", "videos clips", "code programs",
        "games", "graphs networks", "text documents", "training data", "reasoning math problems",
        "agents tools", "robots", "medical doctors", "recipes cooking", "conversations dialogue",
    ],
)  # fmt: skip
def test_words_every_kind_of_question_uses_name_no_area(words: str) -> None:
    """Everyday questions name these in passing, about papers that call them something else (the design data dropped
    the rows that did: dialogue, images, code, games, robotics, medicine, food): no row of the table reads them."""
    assert areas_missing(words, []) == []
