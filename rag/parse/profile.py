"""An author profile page: a profile block, then per paper a category+date line
("LGOct 24, 2023", "69.0CLMay 11"), the title, "A, B, C et al. · org1, org2", the abstract."""

from __future__ import annotations

import re

from rag.models import Record, Source
from rag.parse.common import PageResult, Problem, looks_like_abstract, parse_date

PAGE = "profile"
HEADER = re.compile(
    r"^(?P<score>\d+(?:\.\d+)?)?(?P<cat>[A-Z]{2,4})"
    r"(?P<date>(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}(?:, \d{4})?)$"
)
AUTHOR_SEP = " · "


def parse_authors(line: str) -> tuple[list[str], bool, list[str]]:
    """'A, B, C et al. · apple-ml, princeton' -> (['A','B','C'], True, ['apple-ml','princeton'])."""
    names, _, orgs = line.partition(AUTHOR_SEP)
    names = names.strip()
    truncated = names.endswith("et al.")
    if truncated:
        names = names[: -len("et al.")].strip().rstrip(",")
    authors = [a.strip() for a in names.split(",") if a.strip()]
    affiliations = [o.strip() for o in orgs.split(",") if o.strip()]
    return authors, truncated, affiliations


def parse(lines: list[str], name: str) -> PageResult:
    out = PageResult()
    entries: list[tuple[int, re.Match[str], list[tuple[int, str]]]] = []
    for no, line in enumerate(lines, 1):
        m = HEADER.match(line)
        if m:
            entries.append((no, m, []))
        elif line and entries:
            entries[-1][2].append((no, line))
        # lines before the first header are the profile block (h-index, citations, …): not papers
    for no, header, body in entries:
        if len(body) < 2 or not looks_like_abstract(body[-1][1]):
            out.problems.append(Problem(name, no, "skipped: paper entry without a title and an abstract"))
            continue
        title_no, title = body[0]
        abstract_no, abstract = body[-1]
        rec = Record(
            abstract=abstract,
            title=title,
            category=header["cat"],
            date_text=header["date"],
            source=Source(file=name, line=title_no, page=PAGE),
        )
        rec.date, _ = parse_date(header["date"])
        if header["score"]:
            rec.score = float(header["score"])
        middle = body[1:-1]
        if middle:
            rec.authors, rec.authors_truncated, rec.affiliations = parse_authors(middle[0][1])
        for extra_no, _ in middle[1:]:
            out.problems.append(Problem(name, extra_no, "ignored: unexpected line inside a paper entry"))
        del abstract_no
        out.records.append(rec)
    return out
