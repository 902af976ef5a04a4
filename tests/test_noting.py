"""The note an answer leads with when the question's words are in no paper it draws on (no model, no index)."""

from __future__ import annotations

from rag.answer import _noting_uncovered
from rag.models import Answer


def _answer(text: str, missing: list[str]) -> Answer:
    return Answer(question="q", answer=text, refused=False, mode="extractive", citations=[], missing=missing)


def test_the_note_leads_the_stream_and_the_answer_and_names_the_words() -> None:
    parts = list(_noting_uncovered(iter(["Quoted. [1]", _answer("Quoted. [1]", ["number of GPUs"])]), ["poker", "Go"]))
    text = "".join(p for p in parts if isinstance(p, str))
    final = parts[-1]
    assert isinstance(final, Answer)
    assert text == final.answer  # what streamed is what the answer says
    assert final.answer.startswith('No paper in the corpus mentions "poker" or "Go":')
    assert final.missing == ["poker", "Go", "number of GPUs"]
