"""One parser per page format. `parse_page(path, fmt)` dispatches on the manifest's format name."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rag.parse import abstract_list, arxiv_listing, daily_papers, profile, title_list
from rag.parse.common import CorpusError, PageResult, Problem

PARSERS: dict[str, Callable[[list[str], str], PageResult]] = {
    "profile": profile.parse,
    "abstract-list": abstract_list.parse,
    "arxiv-listing": arxiv_listing.parse,
    "daily-papers": daily_papers.parse,
    "title-list": title_list.parse,
}


def parse_page(path: Path, fmt: str) -> PageResult:
    from rag.parse.common import read_lines

    if fmt not in PARSERS:
        raise CorpusError(f"{path.name}: unknown page format {fmt!r} (known: {', '.join(PARSERS)})")
    return PARSERS[fmt](read_lines(path), path.name)


__all__ = ["PARSERS", "CorpusError", "PageResult", "Problem", "parse_page"]
