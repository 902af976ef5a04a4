"""BibTeX (.bib) as Zotero and most reference managers export it, abstracts included.

A small tolerant reader rather than a full BibTeX implementation: entries are `@type{key, name = value, ...}`
with values in braces, quotes, bare numbers or month macros, joined by `#`. An entry whose braces do not
balance, or that runs past the record size limit, is reported and reading resumes at the next `@` line.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from rag.models import Record, Source
from rag.parse.common import Problem
from rag.parse.fields import iso_date, normal_arxiv_id, normal_doi, split_authors, text, year_month

PAGE = "bibtex"
ENTRY_START = re.compile(r"^\s*@\s*([A-Za-z]+)\s*\{")
SKIP_TYPES = {"comment", "preamble", "string"}
FIELD_NAME = re.compile(r"\s*([A-Za-z][\w:.+-]*)\s*=\s*")

# \"o, \'{e}, {\c c}: accent commands -> combining marks (composed by NFC afterwards).
ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
           ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
           "r": "\u030a"}  # fmt: skip
LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ",
           "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ"}  # fmt: skip
_ACCENT = re.compile(r"\\([`'^\"~=.]|[uvHckr](?=[\s{]))\s*(?:\{\s*(\\?[A-Za-z])\s*\}|(\\?[A-Za-z]))")
_LETTER = re.compile(r"\\(ss|aa|AA|ae|AE|oe|OE|o|O|l|L)(?![A-Za-z])\s*")
_ESCAPED = re.compile(r"\\([&%$#_{}])")
_MATH = re.compile(r"(\$[^$]*\$)")


def latex_to_text(value: str) -> str:
    """Accents and escapes decoded, grouping braces dropped; $math$ kept as written (text.searchable reads it)."""
    parts = _MATH.split(value)
    for i in range(0, len(parts), 2):  # even parts are outside math
        s = _LETTER.sub(lambda m: LETTERS[m.group(1)], parts[i])
        s = _ACCENT.sub(lambda m: _accent(m.group(1), m.group(2) or m.group(3)), s)
        s = s.replace("---", "—").replace("--", "–").replace("~", " ")
        s = _ESCAPED.sub(lambda m: {"{": "\ue000", "}": "\ue001"}.get(m.group(1), m.group(1)), s)
        s = s.replace("{", "").replace("}", "").replace("\ue000", "{").replace("\ue001", "}")
        parts[i] = s
    return unicodedata.normalize("NFC", text("".join(parts)))


def _accent(cmd: str, letter: str) -> str:
    base = {"\\i": "i", "\\j": "j"}.get(letter, letter.lstrip("\\"))
    return base + ACCENTS[cmd]


def entries(lines: Iterable[tuple[int, str]], name: str, max_chars: int) -> Iterator[tuple[int, str] | Problem]:
    """(line of the '@', entry text) per entry; unbalanced, oversized and stray text reported."""
    buf: list[str] = []
    start, depth, size, oversized = 0, 0, 0, False
    stray_reported = False
    for no, line in lines:
        if ENTRY_START.match(line):
            if buf:  # an oversized entry was reported already
                yield Problem(name, start, "skipped: entry with unbalanced braces (it never closes)")
            start, buf, depth, size, oversized = no, [], 0, 0, False
        elif not buf and not oversized:
            if line.strip() and not line.lstrip().startswith("%") and not stray_reported:
                stray_reported = True  # text between entries is a comment in BibTeX; say so once
                yield Problem(name, no, "ignored: text outside any @entry (reported once per file)")
            continue
        if oversized:
            continue
        size += len(line) + 1
        if size > max_chars:
            yield Problem(name, start, f"skipped: entry longer than {max_chars:,} characters")
            buf, oversized = [], True
            continue
        buf.append(line)
        depth += _depth_change(line)
        if depth <= 0:
            yield start, "\n".join(buf)
            buf = []
    if buf:
        yield Problem(name, start, "skipped: entry truncated at the end of the file (unbalanced braces)")


def _depth_change(line: str) -> int:
    line = line.replace("\\{", "").replace("\\}", "")
    return line.count("{") - line.count("}")


class BibSyntaxError(ValueError):
    pass


def fields_of(entry: str) -> tuple[str, dict[str, str]]:
    """'@article{key, title = {...}, ...}' -> (type, {lower-case field name: raw value})."""
    m = ENTRY_START.match(entry)
    if not m:
        raise BibSyntaxError("no @type{ at the start")
    kind, pos = m.group(1).lower(), m.end()
    if kind in SKIP_TYPES:
        return kind, {}
    comma = entry.find(",", pos)
    if comma < 0:
        raise BibSyntaxError("no citation key")
    pos = comma + 1
    out: dict[str, str] = {}
    while True:
        while pos < len(entry) and entry[pos] in " \t\n,":
            pos += 1
        if pos >= len(entry) or entry[pos] in "})":
            return kind, out
        fm = FIELD_NAME.match(entry, pos)
        if not fm:
            raise BibSyntaxError(f"expected 'name = value' at {entry[pos : pos + 20]!r}")
        value, pos = _value(entry, fm.end())
        out.setdefault(fm.group(1).lower(), value)


def _value(entry: str, pos: int) -> tuple[str, int]:
    pieces = []
    while True:
        while pos < len(entry) and entry[pos] in " \t\n":
            pos += 1
        if pos >= len(entry):
            raise BibSyntaxError("value cut off")
        ch = entry[pos]
        if ch == "{":
            end = _closing(entry, pos)
            pieces.append(entry[pos + 1 : end])
            pos = end + 1
        elif ch == '"':
            end = pos + 1
            depth = 0
            while end < len(entry) and not (entry[end] == '"' and depth == 0 and entry[end - 1] != "\\"):
                depth += {"{": 1, "}": -1}.get(entry[end], 0)
                end += 1
            if end >= len(entry):
                raise BibSyntaxError("unclosed quote")
            pieces.append(entry[pos + 1 : end])
            pos = end + 1
        else:
            m = re.compile(r"[\w:.+-]+").match(entry, pos)
            if not m:
                raise BibSyntaxError(f"expected a value at {entry[pos : pos + 20]!r}")
            word = m.group(0)
            pieces.append(word)  # a number, or a macro such as `mar` (months are read by year_month)
            pos = m.end()
        while pos < len(entry) and entry[pos] in " \t\n":
            pos += 1
        if pos < len(entry) and entry[pos] == "#":
            pos += 1
            continue
        return "".join(pieces), pos


def _closing(entry: str, pos: int) -> int:
    depth = 0
    for i in range(pos, len(entry)):
        c = entry[i]
        if c == "\\":
            continue
        if c == "{" and entry[i - 1] != "\\":
            depth += 1
        elif c == "}" and entry[i - 1] != "\\":
            depth -= 1
            if depth == 0:
                return i
    raise BibSyntaxError("unbalanced braces in a value")


def record(kind: str, f: dict[str, str], source: Source) -> Record | str:
    get = {k: latex_to_text(v) for k, v in f.items()}
    abstract = get.pop("abstract", "")
    title = get.pop("title", "")
    if not abstract:
        return f"skipped: @{kind} without an abstract" + (f" ({title[:60]!r})" if title else "")
    rec = Record(abstract=abstract, title=title or None, source=source)
    rec.authors = split_authors(get.pop("author", ""), bibtex=True)
    year, month = get.pop("year", ""), get.pop("month", "")
    rec.date = year_month(year, month) if year else None
    rec.date_text = " ".join(x for x in (month, year) if x) or None
    date = get.pop("date", "")  # biblatex: date = {2023-10-24}
    if date and not rec.date:
        rec.date, rec.date_text = iso_date(date), date
    rec.doi = normal_doi(get.pop("doi", ""))
    eprint = get.pop("eprint", "")
    prefix = get.pop("archiveprefix", "") or get.pop("eprinttype", "")
    rec.arxiv_id = normal_arxiv_id(eprint) if (not prefix or prefix.lower() == "arxiv") else None
    if not rec.arxiv_id and eprint:
        get["eprint"] = eprint
    rec.journal_ref = get.pop("journal", "") or get.pop("journaltitle", "") or get.pop("booktitle", "") or None
    note = get.pop("note", "")
    if note:
        rec.comments = [note]
    category = get.pop("primaryclass", "")
    if category:
        rec.categories, rec.category = [category], category
    get.pop("file", None)  # Zotero's local attachment paths: meaningless elsewhere
    rec.extra = {"entry_type": kind, **{k: v[:500] for k, v in get.items() if v}}
    return rec


def parse(lines: Iterable[tuple[int, str]], name: str, max_chars: int = 1_000_000) -> Iterator[Record | Problem]:
    for item in entries(lines, name, max_chars):
        if isinstance(item, Problem):
            yield item
            continue
        no, entry = item
        try:
            kind, f = fields_of(entry)
        except BibSyntaxError as exc:
            yield Problem(name, no, f"skipped: malformed entry ({exc})")
            continue
        if kind in SKIP_TYPES:
            continue
        rec = record(kind, f, Source(file=name, line=no, page=PAGE))
        yield rec if isinstance(rec, Record) else Problem(name, no, rec)
