"""A streamed answer as an object: iterate it for the text as it is generated, read `.answer` for the
final verified `Answer`. The search runs when the stream is made, so `.found` (the retrieved papers)
and `.sources` (the papers the answer will draw on) are there before the first word of text."""

from __future__ import annotations

from collections.abc import Iterator

from rag.models import Answer, Citation, SearchResult


class AnswerStream:
    def __init__(self, found: SearchResult, sources: list[Citation], parts: Iterator[str | Answer]):
        self.found = found
        self.sources = sources  # provisional: the final answer may cite fewer, renumbered
        self._parts = parts
        self._answer: Answer | None = None
        self.text = ""  # what has been streamed so far (a draft: verification may change it)

    def __iter__(self) -> Iterator[str]:
        for part in self._parts:
            if isinstance(part, Answer):
                self._answer = part
            else:
                self.text += part
                yield part

    @property
    def answer(self) -> Answer:
        """The final verified answer; consumes whatever text was not iterated yet."""
        if self._answer is None:
            for _ in self:
                pass
        if self._answer is None:
            raise RuntimeError("the answer stream ended without an answer")
        return self._answer
