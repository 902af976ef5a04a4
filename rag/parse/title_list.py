"""A long list of alternating title and abstract lines, chrome on top, 'Subscribe' glued to the
first title."""

from __future__ import annotations

from rag.parse.common import PageResult
from rag.parse.pairs import pair_titles

PAGE = "title-list"


def parse(lines: list[str], name: str) -> PageResult:
    return pair_titles([(no, line, None) for no, line in enumerate(lines, 1)], name, PAGE)
