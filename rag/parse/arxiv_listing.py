"""An arXiv listing without titles: abstracts, comment lines, and `arXiv:ID` glued to the start of a
later line. The id closes the abstract BEFORE it ("abstract, comments…, arXiv:ID<next abstract>"),
and the last id stands alone on the final line."""

from __future__ import annotations

import re

from rag.models import Record, Source
from rag.parse.common import PageResult, Problem, looks_like_abstract

PAGE = "arxiv-listing"
ARXIV = re.compile(r"^arXiv:(\d{4}\.\d{4,5})(v\d+)?\s*(.*)$")


def _year_month(arxiv_id: str) -> tuple[str, int]:
    yy, mm = int(arxiv_id[:2]), int(arxiv_id[2:4])
    return f"{2000 + yy:04d}-{mm:02d}", 2000 + yy


def parse(lines: list[str], name: str) -> PageResult:
    out = PageResult()
    pending: Record | None = None

    def close(arxiv_id: str | None, no: int) -> None:
        nonlocal pending
        if pending is None:
            if arxiv_id:
                out.problems.append(Problem(name, no, f"skipped: arXiv:{arxiv_id} has no abstract before it"))
            return
        if arxiv_id:
            pending.arxiv_id = arxiv_id
            pending.date, _ = _year_month(arxiv_id)
        else:
            out.problems.append(Problem(name, pending.source.line, "abstract kept without an arXiv id"))
        out.records.append(pending)
        pending = None

    for no, line in enumerate(lines, 1):
        if not line:
            continue
        m = ARXIV.match(line)
        if m:
            close(m.group(1), no)
            rest = m.group(3).strip()
            if rest:
                pending = Record(abstract=rest, source=Source(file=name, line=no, page=PAGE))
        elif pending is None:
            pending = Record(abstract=line, source=Source(file=name, line=no, page=PAGE))
        elif not looks_like_abstract(line):
            pending.comments.append(line)  # "9 pages, 7 figures", "accepted to AISTATS 2025", …
        else:
            # Two abstracts with no id between them: the first keeps no id rather than a wrong one.
            close(None, no)
            pending = Record(abstract=line, source=Source(file=name, line=no, page=PAGE))
    close(None, len(lines))
    return out
