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
        ("speech recognition word error rates", ["Large language models make reasoning errors."], ["speech"]),
        ("predict crop yields satellite images", ["Satellite images reveal poverty."], ["agriculture"]),
        ("diffusion models segmentation", [], ["segmentation"]),
        ("reinforcement learning self-driving cars", [DISTILLATION], ["autonomous driving"]),
        # one paper found mentions the area, in any of the area's words
        ("knowledge distillation object detection", [DISTILLATION, "We distil object detectors."], []),
        ("voice assistants", ["Automatic speech recognition in the wild."], []),
        ("time series", ["We forecast demand from past sales."], []),
        ("reinforcement learning self-driving cars", ["A policy for autonomous vehicles."], []),
        # no area named: a whole word, not a part of one
        ("diffusion models image generation", [DISTILLATION], []),
        ("healing scars", [], []),
        ("hard drive failures", [], []),
        ("knowledge distillation", [], []),
    ],
)  # fmt: skip
def test_an_area_the_question_names_and_no_paper_found_mentions(
    topic: str, texts: list[str], missing: list[str]
) -> None:
    assert areas_missing(topic, texts) == missing


def test_an_area_already_named_missing_by_one_of_its_words_is_not_named_again() -> None:
    assert areas_missing("predict crop yields satellite images", [], named=["crop"]) == []
    assert areas_missing("predict crop yields satellite images", [], named=["satellite"]) == ["agriculture"]


def test_two_areas_are_named_in_table_order() -> None:
    assert areas_missing("speech object detection", []) == ["object detection", "speech"]
    assert [name for name, _ in AREAS][:2] == ["object detection", "autonomous driving"]
