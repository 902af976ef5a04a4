"""Title-then-abstract pairing shared by the daily-papers and title-list formats."""

from __future__ import annotations

from rag.models import Record, Source
from rag.parse.common import CHROME_LINES, PageResult, Problem, looks_like_abstract, strip_chrome_prefix


def pair_titles(lines: list[tuple[int, str, str | None]], name: str, page: str) -> PageResult:
    """`lines` are (line number, text, listing date). A title is a short line followed by an abstract."""
    out = PageResult()
    title: tuple[int, str] | None = None
    for no, raw, listing_date in lines:
        if not raw or raw in CHROME_LINES:
            continue
        line = strip_chrome_prefix(raw)
        if looks_like_abstract(line):
            if title is None:
                out.problems.append(Problem(name, no, "abstract without a title line: kept, title to be derived"))
                src = Source(file=name, line=no, page=page, listing_date=listing_date)
                out.records.append(Record(abstract=line, source=src))
            else:
                src = Source(file=name, line=title[0], page=page, listing_date=listing_date)
                out.records.append(Record(abstract=line, title=title[1], source=src))
            title = None
        else:
            if title is not None:
                out.problems.append(Problem(name, title[0], f"skipped: title without an abstract: {title[1][:60]!r}"))
            title = (no, line)
    if title is not None:
        out.problems.append(Problem(name, title[0], f"skipped: title without an abstract: {title[1][:60]!r}"))
    return out
