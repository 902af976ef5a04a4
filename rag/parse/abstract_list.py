"""A listing of bare abstracts, one per line, each behind an 'Abstract:' prefix; no titles."""

from __future__ import annotations

from rag.models import Record, Source
from rag.parse.common import PageResult, Problem

PAGE = "abstract-list"
PREFIX = "Abstract:"


def parse(lines: list[str], name: str) -> PageResult:
    out = PageResult()
    for no, line in enumerate(lines, 1):
        if not line:
            continue
        if not line.startswith(PREFIX):
            out.problems.append(Problem(name, no, f"skipped: line does not start with {PREFIX!r}"))
            continue
        text = line[len(PREFIX) :].strip()
        if not text:
            out.problems.append(Problem(name, no, "skipped: empty abstract"))
            continue
        out.records.append(Record(abstract=text, source=Source(file=name, line=no, page=PAGE)))
    return out
