"""One parser per corpus format.

Page parsers (the five seed formats) read a small page whole: `(lines, name) -> PageResult`.
Stream parsers (bulk formats) read `(line number, text)` pairs lazily and yield each `Record` or `Problem`
as they go, so a million-line file is never held in memory. `parse_source` runs either kind on a file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from rag.models import Record
from rag.parse import (
    abstract_list,
    arxiv_listing,
    arxiv_snapshot,
    bibtex,
    csv_table,
    daily_papers,
    jsonl,
    profile,
    title_list,
)
from rag.parse.common import CorpusError, LineReader, PageResult, Problem
from rag.text import clean_line

PARSERS: dict[str, Callable[[list[str], str], PageResult]] = {
    "profile": profile.parse,
    "abstract-list": abstract_list.parse,
    "arxiv-listing": arxiv_listing.parse,
    "daily-papers": daily_papers.parse,
    "title-list": title_list.parse,
}
StreamParser = Callable[[Iterable[tuple[int, str]], str, int], Iterator[Record | Problem]]
STREAM_PARSERS: dict[str, StreamParser] = {
    "arxiv-snapshot": lambda lines, name, limit: arxiv_snapshot.parse(lines, name),
    "jsonl": lambda lines, name, limit: jsonl.parse(lines, name),
    "csv": csv_table.parse,
    "bibtex": bibtex.parse,
}
FORMATS = [*STREAM_PARSERS, *PARSERS]


def parse_source(reader: LineReader, fmt: str) -> Iterator[Record | Problem]:
    """Every record and problem of one file read as `fmt`, the reader's own problems included, in order."""
    if fmt in PARSERS:
        lines = [clean_line(text) for _, text in reader]
        result = PARSERS[fmt](lines, reader.name)
        yield from reader.problems
        yield from result.problems
        yield from result.records
        return
    seen = 0
    for item in STREAM_PARSERS[fmt](reader, reader.name, reader.max_bytes):
        yield from reader.problems[seen:]
        seen = len(reader.problems)
        yield item
    yield from reader.problems[seen:]


def parse_page(path: Path, fmt: str, max_bytes: int = 1_000_000) -> PageResult:
    """A whole file read as `fmt` (the five page formats and the bulk ones alike)."""
    if fmt not in FORMATS:
        raise CorpusError(f"{path.name}: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    out = PageResult()
    for item in parse_source(LineReader(path, path.name, max_bytes), fmt):
        if isinstance(item, Problem):
            out.problems.append(item)
        else:
            out.records.append(item)
    return out


__all__ = ["FORMATS", "PARSERS", "STREAM_PARSERS", "CorpusError", "PageResult", "Problem", "parse_page", "parse_source"]
