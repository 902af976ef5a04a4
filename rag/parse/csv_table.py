"""A CSV (or TSV) table whose header names a `title` and an `abstract` column (any case); other
columns are kept as metadata. Quoted fields may span lines, as spreadsheets and Zotero write them."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from itertools import chain

from rag.models import Record, Source
from rag.parse.common import Problem
from rag.parse.fields import record_from_columns

PAGE = "csv"
DELIMITERS = ",\t;"


class RecordTooLong(Exception):
    pass


def delimiter(header: str) -> str:
    return max(DELIMITERS, key=header.count)


class _Feed:
    """Feeds lines to csv.reader and stops a quoted field that would swallow the rest of the file.
    An iterator object, not a generator: it stays usable after raising, so reading resumes on the next line."""

    def __init__(self, lines: Iterable[tuple[int, str]], max_chars: int):
        self.lines = iter(lines)
        self.max_chars = max_chars
        self.no = 0
        self.row_chars = 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        self.no, line = next(self.lines)
        self.row_chars += len(line)
        if self.row_chars > self.max_chars:
            self.row_chars = 0
            raise RecordTooLong
        return line + "\n"


def parse(lines: Iterable[tuple[int, str]], name: str, max_chars: int = 1_000_000) -> Iterator[Record | Problem]:
    it = iter(lines)
    first = next(((no, line) for no, line in it if line.strip()), None)
    if first is None:
        return
    feed = _Feed(chain([first], it), max_chars)
    delim = delimiter(first[1])
    header: list[str] | None = None
    reader = None
    while True:
        if reader is None:  # a fresh reader after an error: csv.reader keeps no state worth trusting
            reader = csv.reader(feed, delimiter=delim)
        feed.row_chars = 0
        row_start = feed.no + 1 if header is not None else first[0]
        try:
            row = next(reader)
        except StopIteration:
            break
        except RecordTooLong:
            yield Problem(name, row_start, f"skipped: record longer than {max_chars:,} characters "
                          "(an unclosed quote?); reading on from the next line")  # fmt: skip
            reader = None
            continue
        except csv.Error as exc:
            yield Problem(name, row_start, f"skipped: malformed CSV row ({exc})")
            reader = None
            continue
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [c.strip() for c in row]
            lowered = {c.lower() for c in header}
            if "abstract" not in lowered:
                yield Problem(name, row_start, f"skipped: the header has no 'abstract' column: {header[:8]}")
                return
            if "title" not in lowered:
                yield Problem(name, row_start, "no 'title' column: titles will be derived from the abstracts")
            continue
        if len(row) < len(header) or any(c.strip() for c in row[len(header) :]):
            yield Problem(name, row_start, f"skipped: {len(row)} columns, the header has {len(header)}")
            continue
        rec = record_from_columns(dict(zip(header, row, strict=False)), Source(file=name, line=row_start, page=PAGE))
        yield rec if isinstance(rec, Record) else Problem(name, row_start, rec)
