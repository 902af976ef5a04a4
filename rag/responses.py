"""The two ways an `Answer` is made, each in one place: `cited` (text with [n] markers over hits) and
`refused` (the corpus does not answer; related reading offered instead). Every answerer uses these."""

from __future__ import annotations

from rag.models import Answer, Citation, Hit, SearchResult

EXTRACTIVE_NOTE = "Extractive answer (no LLM configured): the most relevant sentences quoted from the top papers."
REFUSAL_TEXT = "The corpus does not appear to answer this question"


def quoted(words: list[str], conjunction: str = "or") -> str:
    """'"a"', '"a" or "b"', '"a", "b" or "c"'."""
    marked = [f'"{w}"' for w in words]
    return ", ".join(marked[:-1]) + (f" {conjunction} " if len(marked) > 1 else "") + marked[-1]


def uncovered_note(words: list[str]) -> str:
    """What an answer says first when the papers found leave out words a few other papers use (`SearchResult.
    uncovered`): it answers the rest of the question, not the question as asked. (Whether other papers mention them
    is not said: for a rare word a few do, far from the rest of the question; for an area, often none.)"""
    return (
        f"None of the papers found mentions {quoted(words)}. What follows is the closest the corpus comes to the rest "
        "of the question, not an answer to the question as asked."
    )


def cited(
    found: SearchResult,
    hits: list[Hit],
    text: str,
    mode: str,
    *,
    snippets: list[str] | None = None,
    warnings: list[str] | None = None,
    missing: list[str] | None = None,
) -> Answer:
    """An answer citing `hits` as [1]..[n] (in that order), each quoting its snippet. The words the papers found leave
    out (`SearchResult.uncovered`) are `missing` too."""
    quotes = snippets or [h.snippet for h in hits]
    missing = [*(missing or []), *(w for w in found.uncovered if w not in (missing or []))]
    return Answer(
        question=found.question,
        answer=text,
        refused=False,
        mode=mode,  # type: ignore[arg-type]
        citations=[Citation.of(i, h, q) for i, (h, q) in enumerate(zip(hits, quotes, strict=True), 1)],
        warnings=warnings or [],
        missing=missing,
        standalone_question=found.standalone_question,
        timings_ms={},
    )


def refused(
    found: SearchResult,
    text: str,
    mode: str,
    related: list[Hit],
    *,
    note: str | None = None,
    missing: list[str] | None = None,
) -> Answer:
    """An answer that declines, citing nothing and offering `related` papers to read instead."""
    return Answer(
        question=found.question,
        answer=text,
        refused=True,
        mode=mode,  # type: ignore[arg-type]
        citations=[],
        related=[Citation.of(i, h, h.snippet) for i, h in enumerate(related, 1)],
        warnings=[note] if note else [],
        missing=missing or [],
        standalone_question=found.standalone_question,
        timings_ms={},
    )


def refused_closest(
    found: SearchResult, text: str, mode: str, *, note: str | None = None, missing: list[str] | None = None
) -> Answer:
    """`refused`, offering the first three papers found as related reading, named at the end of the text."""
    closest = found.hits[:3]
    if closest:
        text += " Closest papers, as related reading: " + "; ".join(h.title for h in closest) + "."
    return refused(found, text, mode, closest, note=note, missing=missing)


def not_relevant(found: SearchResult, mode: str, note: str | None = None) -> Answer:
    """The refusal when retrieval found nothing close enough."""
    text = f"{REFUSAL_TEXT}: none of its papers addresses it closely enough to answer."
    return refused_closest(found, text, mode, note=note)
