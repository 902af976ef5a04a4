"""A Hugging Face daily-papers page: chrome, date headers ("Oct 2"), then title / abstract blocks
separated by blank lines."""

from __future__ import annotations

from rag.parse.common import DATE_HEADER, PageResult
from rag.parse.pairs import pair_titles

PAGE = "daily-papers"


def parse(lines: list[str], name: str) -> PageResult:
    numbered: list[tuple[int, str, str | None]] = []
    listing_date: str | None = None
    for no, line in enumerate(lines, 1):
        if DATE_HEADER.match(line):
            listing_date = line
            continue
        numbered.append((no, line, listing_date))
    return pair_titles(numbered, name, PAGE)
