"""The arXiv metadata snapshot (Kaggle "arxiv-metadata-oai-snapshot.json"): one JSON object a line with
id, title, abstract, authors, authors_parsed, categories, comments, journal-ref, doi, update_date, versions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from rag.models import Record, Source
from rag.parse.common import Problem
from rag.parse.fields import iso_date, normal_arxiv_id, normal_doi, split_authors, text
from rag.parse.jsonl import objects

PAGE = "arxiv-snapshot"
# Keys that only the snapshot has: detection and this parser agree on them.
SIGNATURE = {"authors_parsed", "versions", "update_date", "journal-ref", "submitter"}
KNOWN = {"id", "title", "abstract", "authors", "categories", "comments", "doi", "license", "report-no"} | SIGNATURE


def _authors(obj: dict[str, Any]) -> list[str]:
    """authors_parsed ([last, first, suffix] lists) when usable, else the 'A, B and C' string."""
    parsed = obj.get("authors_parsed")
    if isinstance(parsed, list) and parsed and all(isinstance(a, list) for a in parsed):
        names = [" ".join(text(x) for x in (a[1:2] + a[:1] + a[2:3]) if text(x)) for a in parsed]
        if all(names):
            return names
    return split_authors(text(obj.get("authors")).replace(", and ", ", ").replace(" and ", ", "))


def _date(obj: dict[str, Any]) -> str | None:
    """First version's date (submission), else update_date."""
    versions = obj.get("versions")
    if isinstance(versions, list) and versions and isinstance(versions[0], dict):
        first = iso_date(text(versions[0].get("created")))
        if first:
            return first
    return iso_date(text(obj.get("update_date")))


def parse(lines: Iterable[tuple[int, str]], name: str) -> Iterator[Record | Problem]:
    for item in objects(lines, name):
        if isinstance(item, Problem):
            yield item
            continue
        no, obj = item
        abstract, title = text(obj.get("abstract")), text(obj.get("title"))
        ident = text(obj.get("id"))
        if not abstract:
            yield Problem(name, no, f"skipped: record without an abstract (id {ident or '?'}, {title[:60]!r})")
            continue
        rec = Record(abstract=abstract, title=title or None, source=Source(file=name, line=no, page=PAGE))
        rec.arxiv_id = normal_arxiv_id(ident)
        if ident and not rec.arxiv_id:
            yield Problem(name, no, f"kept without an arXiv id: {ident[:40]!r} is not one")
        rec.authors = _authors(obj)
        rec.date = _date(obj)
        rec.categories = text(obj.get("categories")).split()
        rec.category = rec.categories[0] if rec.categories else None
        rec.journal_ref = text(obj.get("journal-ref")) or None
        rec.doi = normal_doi(text(obj.get("doi")).split()[0]) if text(obj.get("doi")) else None
        if text(obj.get("comments")):
            rec.comments = [text(obj.get("comments"))]
        rec.extra = {k: text(v)[:500] for k, v in obj.items() if k not in KNOWN and text(v)}
        yield rec
