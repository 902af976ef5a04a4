"""Application areas a question can ask a method about: "knowledge distillation for object detection".

A near-miss question joins a method the corpus covers to an area it does not cover. Its words are common in the
corpus, so neither the absent-word test nor the rare-word test (`Retriever.uncovered`) names what is missing. The
method's papers rank first, and none of them mentions the area. When the question names an area from this table and
none of the first `retrieval.area_depth` papers found mentions it, the area is `uncovered`. The answer then says so
and quotes the closest papers as the nearest the corpus comes.

Each row is an area's name (what `missing` shows) and a pattern. The same pattern is read in the question's subject
(its topic, ruled-out subjects left out) and in the papers' titles and abstracts.

The rows were written from the field's vocabulary, not from questions: 41 areas. They were kept on design data
(held-out 2's first 2493 questions and eval/dev.jsonl) when, at depth 3, they named at least three unanswerable
questions and more than twice as many unanswerable as answerable ones. Areas that everyday questions name in
passing were dropped: images, dialogue ("chatbots"), games, education, health care, code, video, tables
("times-table"), federated learning and others. They flagged more answerable questions than they named
unanswerable ones. Measurements are in docs/notes/lay.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# fmt: off
_ROWS: list[tuple[str, str]] = [
    ("object detection", r"object detect\w*|detect\w* objects|detectors?"),
    ("autonomous driving", r"driving|vehicles?|self-driving|cars?"),
    ("speech", r"speech|spoken|voice|audio|asr"),
    ("molecules", r"molecul\w*|chemi\w*|drugs?"),
    ("time series", r"time[- ]series|temporal data|forecast\w*"),
    ("segmentation", r"segment\w*"),
    ("agriculture", r"crops?|agricultur\w*|farm\w*|yields?"),
]
# fmt: on

AREAS: list[tuple[str, re.Pattern[str]]] = [(name, re.compile(rf"\b(?:{p})\b", re.I)) for name, p in _ROWS]


def areas_missing(topic: str, texts: list[str], named: Sequence[str] = ()) -> list[str]:
    """The areas the topic names that none of the texts (the first papers found) mentions, but those already
    `named` missing in a word of theirs ("crop")."""
    return [
        name
        for name, pattern in AREAS
        if pattern.search(topic) and not any(pattern.search(t) for t in [*texts, *named])
    ]
