"""Metadata columns -> `Record` fields, shared by the JSONL, CSV and BibTeX parsers.

Column names are matched case-insensitively; a column that is no known field is kept in `extra`.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from rag.models import Record, Source
from rag.text import clean_line

# Known column -> Record field. Anything else is metadata kept in `extra`.
ALIASES = {
    "title": "title",
    "abstract": "abstract",
    "summary": "abstract",
    "authors": "authors",
    "author": "authors",
    "doi": "doi",
    "arxiv_id": "arxiv_id",
    "arxiv": "arxiv_id",
    "eprint": "arxiv_id",
    "date": "date",
    "published": "date",
    "year": "date",
    "publication year": "date",
    "publication_year": "date",
    "categories": "categories",
    "category": "categories",
    "journal-ref": "journal_ref",
    "journal_ref": "journal_ref",
    "journal": "journal_ref",
    "booktitle": "journal_ref",
    "venue": "journal_ref",
    "comments": "comments",
    "comment": "comments",
    "note": "comments",
}
ARXIV_ID = re.compile(r"^(?:arXiv:)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$", re.I)
DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)?(10\.\d{4,9}/\S+)$", re.I)
YEAR = re.compile(r"^(19|20)\d\d$")
MONTH_NAMES = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
EXTRA_MAX_CHARS = 500  # metadata is shown, not searched: a huge column is cut, not carried whole


def text(value: Any) -> str:
    """A cell as one clean line of text (JSON values of other types are written as JSON)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False)
    value = " ".join(value.split())
    # Fast path (C-level checks) for the usual clean text; clean_line walks every character in Python.
    if value.isprintable() and unicodedata.is_normalized("NFC", value):
        return value
    return clean_line(value)


def split_authors(value: str, *, bibtex: bool = False) -> list[str]:
    """'A; B' or 'A and B' or 'A, B' -> names; 'Last, First' pairs (BibTeX, Zotero CSV) -> 'First Last'.
    BibTeX separates names by 'and' only, so there a single 'Smith, Jane' is one name."""
    value = value.strip()
    if not value:
        return []
    if bibtex:
        names = re.split(r"\s+and\s+", value)
    elif ";" in value:
        names = value.split(";")
    elif re.search(r"\s+and\s+", value):
        names = re.split(r"\s+and\s+", value)
    else:
        names = value.split(",")
    out = []
    for name in names:
        last, comma, first = name.partition(",")
        name = f"{first.strip()} {last.strip()}" if comma and first.strip() else name
        name = " ".join(name.split()).strip(" ,")
        if name and name.lower() not in ("others", "et al.", "et al"):
            out.append(name)
    return out


def iso_date(value: str) -> str | None:
    """'2023-10-24', '2023-10', '2023', 'Mon, 2 Apr 2007 19:18:42 GMT', '2023/10/24' -> ISO; else None."""
    v = value.strip()
    if YEAR.match(v):
        return v
    m = re.match(r"^((?:19|20)\d\d)[-/](\d{1,2})(?:[-/](\d{1,2}))?", v)
    if m:
        try:
            if m.group(3):
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
            return date(int(m.group(1)), int(m.group(2)), 1).isoformat()[:7]
        except ValueError:
            return None
    try:
        return parsedate_to_datetime(v).date().isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return datetime.fromisoformat(v).date().isoformat()
    except ValueError:
        return None


def year_month(year: str, month: str) -> str | None:
    """BibTeX year + month ('jan', 'January', '1') -> 'YYYY-MM' (or 'YYYY')."""
    if not YEAR.match(year.strip()):
        return None
    m = month.strip().lower()[:3]
    n = MONTH_NAMES.get(m) or (int(m) if m.isdigit() and 1 <= int(m) <= 12 else None)
    return f"{year.strip()}-{n:02d}" if n else year.strip()


def normal_arxiv_id(value: str) -> str | None:
    m = ARXIV_ID.match(value.strip())
    return m.group(1) if m else None


def normal_doi(value: str) -> str | None:
    m = DOI.match(value.strip())
    return m.group(1).lower() if m else None  # DOIs are case-insensitive


def record_from_columns(row: dict[str, Any], source: Source) -> Record | str:
    """A Record from named columns, or the reason there is none (no abstract)."""
    fields: dict[str, str] = {}
    extra: dict[str, str] = {}
    for key, value in row.items():
        name = ALIASES.get(str(key).strip().lower())
        value_text = text(value)
        if name and name not in fields:
            fields[name] = value_text
        elif value_text:
            extra[text(key)[:100]] = value_text[:EXTRA_MAX_CHARS]
    abstract = fields.get("abstract", "")
    if not abstract:
        return "skipped: record without an abstract" + (f" ({fields['title'][:60]!r})" if fields.get("title") else "")
    rec = Record(abstract=abstract, source=source, title=fields.get("title") or None, extra=extra)
    rec.authors = split_authors(fields.get("authors", ""))
    rec.doi = normal_doi(fields.get("doi", ""))
    rec.arxiv_id = normal_arxiv_id(fields.get("arxiv_id", ""))
    if fields.get("date"):
        rec.date_text = fields["date"]
        rec.date = iso_date(fields["date"])
    rec.categories = fields.get("categories", "").replace(",", " ").split()
    rec.category = rec.categories[0] if rec.categories else None
    rec.journal_ref = fields.get("journal_ref") or None
    if fields.get("comments"):
        rec.comments = [fields["comments"]]
    return rec
