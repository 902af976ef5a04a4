"""Catalog stage: records from every page -> one clean `Paper` per distinct paper.

The same paper appears on several pages with slightly different abstracts (other LaTeX, a
changed last sentence). Copies are merged when their folded abstracts are near-identical
(measured on this corpus: true copies score >= 95, the closest distinct pair < 60) and nothing
contradicts it (two different titles or arXiv ids, or both copies on one page).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rapidfuzz import fuzz

from rag.models import Paper, Record
from rag.parse import CorpusError, Problem, parse_page
from rag.text import derive_title, fold

MERGE_MIN_SCORE = 90.0  # fuzz.ratio on folded abstracts (full text, or the first 400 chars)
TITLE_MIN_SCORE = 90.0
NEAR_MISS_SCORE = 70.0  # pairs scoring between this and MERGE_MIN_SCORE are reported, not merged
SHINGLE = 5  # words per shingle used to find candidate pairs without comparing all pairs


@dataclass
class Merge:
    paper_id: str
    title: str
    copies: list[str]
    score: float


@dataclass
class CatalogReport:
    pages: int = 0
    records: int = 0
    merges: list[Merge] = field(default_factory=list)
    near_misses: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"pages: {self.pages}, copies read: {self.records}, merges: {len(self.merges)}"]
        for m in self.merges:
            out.append(f"merged {m.paper_id} ({m.score:.0f}): {m.title[:70]!r} <- {', '.join(m.copies)}")
        out += [f"not merged: {n}" for n in self.near_misses]
        out += [f"skipped/noted: {p}" for p in self.problems]
        return out


def load_manifest(corpus_dir: Path) -> list[tuple[Path, str]]:
    """(page path, format) for every page of the corpus, in manifest order."""
    manifest = corpus_dir / "manifest.json"
    if not manifest.is_file():
        raise CorpusError(f"{manifest}: missing (it names each page and its format)")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        pages = [(corpus_dir / p["file"], p["format"]) for p in data["pages"]]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise CorpusError(f"{manifest}: malformed ({exc})") from exc
    for path, _ in pages:
        if not path.is_file():
            raise CorpusError(f"{manifest}: lists {path.name}, which is not in {corpus_dir}")
    return pages


def corpus_hash(corpus_dir: Path) -> str:
    h = hashlib.sha256()
    for path, fmt in load_manifest(corpus_dir):
        h.update(f"{path.name}:{fmt}:".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _similarity(a: str, b: str) -> float:
    return max(fuzz.ratio(a, b), fuzz.ratio(a[:400], b[:400]))


def _conflict(a: Record, b: Record) -> str | None:
    if a.source.file == b.source.file:
        return "both copies are on the same page"
    if a.arxiv_id and b.arxiv_id and a.arxiv_id != b.arxiv_id:
        return f"different arXiv ids {a.arxiv_id} / {b.arxiv_id}"
    if a.title and b.title and fuzz.ratio(fold(a.title), fold(b.title)) < TITLE_MIN_SCORE:
        return "different titles"
    return None


def _candidates(keys: list[str]) -> set[tuple[int, int]]:
    """Pairs sharing a word shingle near the start: near-linear, unlike comparing every pair."""
    buckets: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        words = key.split()[:80]
        for s in {" ".join(words[j : j + SHINGLE]) for j in range(0, max(1, len(words) - SHINGLE + 1))}:
            buckets[s].append(i)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        if 1 < len(members) <= 50:  # a shingle shared by many abstracts is boilerplate, not identity
            pairs.update((a, b) for k, a in enumerate(members) for b in members[k + 1 :])
    return pairs


def paper_id_for(title: str | None, arxiv_id: str | None, abstract: str) -> str:
    """Stable id: from the real title, else the arXiv id, else the start of the abstract."""
    key = f"t:{fold(title)}" if title else (f"a:{arxiv_id}" if arxiv_id else f"x:{fold(abstract)[:200]}")
    return "p" + hashlib.sha1(key.encode()).hexdigest()[:9]


def merge_records(records: list[Record], report: CatalogReport) -> list[Paper]:
    keys = [fold(r.abstract) for r in records]
    parent = list(range(len(records)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    best: dict[int, float] = {}
    for a, b in sorted(_candidates(keys)):
        score = _similarity(keys[a], keys[b])
        if score < NEAR_MISS_SCORE:
            continue
        where = f"{records[a].source.file}:{records[a].source.line} ~ {records[b].source.file}:{records[b].source.line}"
        if score < MERGE_MIN_SCORE:
            report.near_misses.append(f"{where} (similarity {score:.0f} < {MERGE_MIN_SCORE:.0f})")
            continue
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        group_a = [i for i in range(len(records)) if find(i) == ra]
        group_b = [i for i in range(len(records)) if find(i) == rb]
        conflict = next((c for x in group_a for y in group_b if (c := _conflict(records[x], records[y]))), None)
        if conflict:
            report.near_misses.append(f"{where} (similarity {score:.0f}, but {conflict})")
            continue
        parent[rb] = ra
        best[ra] = min(best.get(ra, 100.0), best.pop(rb, 100.0), score)

    groups: dict[int, list[Record]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[find(i)].append(rec)
    papers = []
    for root, copies in groups.items():
        paper = _merge_copies(copies)
        papers.append(paper)
        if len(copies) > 1:
            copies_at = [f"{c.source.file}:{c.source.line}" for c in copies]
            report.merges.append(Merge(paper.paper_id, paper.title, copies_at, best.get(root, 100.0)))
    return papers


def _first(values: list[str | None]) -> str | None:
    return next((v for v in values if v), None)


def _merge_copies(copies: list[Record]) -> Paper:
    """One paper carrying every field any copy had; copies come in manifest (page) order."""
    title = _first([c.title for c in copies])
    arxiv_id = _first([c.arxiv_id for c in copies])
    abstract = max((c.abstract for c in copies), key=len)  # the fullest version
    with_authors = next((c for c in copies if c.authors), None)
    # A full date from a page beats a year-month derived from an arXiv id.
    dated = sorted((c for c in copies if c.date), key=lambda c: -len(c.date or ""))
    date = dated[0].date if dated else None
    date_text = _first([c.date_text for c in copies])
    comments: list[str] = []
    for c in copies:
        comments += [x for x in c.comments if x not in comments]
    return Paper(
        paper_id=paper_id_for(title, arxiv_id, abstract),
        title=title or derive_title(abstract),
        title_derived=title is None,
        abstract=abstract,
        authors=with_authors.authors if with_authors else [],
        authors_truncated=with_authors.authors_truncated if with_authors else False,
        affiliations=_first_list([c.affiliations for c in copies]),
        category=_first([c.category for c in copies]),
        date=date,
        date_text=date_text,
        year=int(date[:4]) if date else None,
        arxiv_id=arxiv_id,
        comments=comments,
        provenance=[c.source for c in copies],
    )


def _first_list(values: list[list[str]]) -> list[str]:
    return next((v for v in values if v), [])


def build_catalog(corpus_dir: Path) -> tuple[list[Paper], CatalogReport]:
    report = CatalogReport()
    records: list[Record] = []
    for path, fmt in load_manifest(corpus_dir):
        result = parse_page(path, fmt)
        report.pages += 1
        records += result.records
        report.problems += result.problems
    report.records = len(records)
    papers = merge_records(records, report)
    seen: dict[str, Paper] = {}
    for p in papers:
        if p.paper_id in seen:  # two distinct papers with one title: keep both, ids told apart
            p.paper_id = paper_id_for(None, p.arxiv_id, p.abstract)
        seen[p.paper_id] = p
    return papers, report


MONTH_NUMBERS = {m.lower(): i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
PERIOD = re.compile(
    r"\b(?:(Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:tember)?|"
    r"Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\s+)?((?:19|20)\d\d)\b",
    re.I,
)
PERIOD_BEFORE = re.compile(  # "in 2020", "from the year 2024"; not "since" (a range, which this does not answer)
    r"\b(in|from|during|dated|published|released|out|of)\s+(the\s+(year|month)\s+(of\s+)?)?$", re.I
)
VENUE_NAMED = re.compile(  # "accepted to AISTATS 2025": a venue written as an acronym, with its year if any
    r"\b(?:accepted|published|presented|appeared?)\s+(?:at|to|in|by)\s+(?:the\s+)?"
    r"([A-Z][a-z]*[A-Z][A-Za-z]*(?:\s+'?\d{2,4}\b)?)"
)
PERIOD_AFTER = re.compile(r"\s+(papers?|works?|articles?|publications?)\b", re.I)


def mention_pattern(name: str) -> re.Pattern[str]:
    """A name ("AISTATS 2025") as whole words, in any case: how a venue is found in a page comment."""
    return re.compile(rf"\b{re.escape(name)}\b", re.I)


@dataclass
class Period:
    label: str  # as the text wrote it: "October 2025"
    prefix: str  # of the ISO dates in it: "2025-10"
    papers: list[Paper]


# What a question that lists papers of a period says besides the period ("which papers in the corpus came
# out in 2023?"). Any other word is a topic: "which 2025 papers study diffusion?" is a search, not a listing.
LISTING_WORDS = frozenset(
    "which what list show give tell me all any every the a papers paper works articles publications corpus "
    "in of from during were was are is be been published released dated came come out appeared there "
    "have has did does do written and or month year please".split()
)


def topic_words(text: str, periods: list[Period]) -> list[str]:
    """The words of a question naming periods that are neither the periods nor the asking."""
    for period in periods:
        text = text.replace(period.label, " ")
    return [w for w in re.findall(r"[a-z][a-z-]+", text.lower()) if w not in LISTING_WORDS]


@dataclass
class NameMatch:
    kind: str  # "author" | "affiliation"
    name: str
    papers: list[Paper]
    exact: bool


def kind_order(kind: str) -> int:
    return 0 if kind == "author" else 1


class Catalog:
    """The papers, by id, with lookups the retriever and answerer need. Saved as JSON."""

    def __init__(self, papers: list[Paper]):
        self.papers = papers
        self.by_id = {p.paper_id: p for p in papers}

    def __len__(self) -> int:
        return len(self.papers)

    @cached_property
    def name_index(self) -> dict[tuple[str, str], list[Paper]]:
        """(kind, display name) -> papers, for authors and affiliations."""
        names: dict[tuple[str, str], list[Paper]] = defaultdict(list)
        for p in self.papers:
            for a in p.authors:
                names[("author", a)].append(p)
            for org in p.affiliations:
                names[("affiliation", org)].append(p)
        return names

    def names_in(self, text: str) -> list[NameMatch]:
        """Authors and affiliations the text names: full names, or a distinctive surname alone."""
        q = f" {fold(text)} "
        found = []
        for (kind, name), papers in self.name_index.items():
            folded = fold(name)
            if len(folded) < 4:
                continue
            if f" {folded} " in q:
                found.append(NameMatch(kind, name, papers, exact=True))
            elif kind == "author" and len(last := folded.split()[-1]) > 3 and f" {last} " in q:
                found.append(NameMatch(kind, name, papers, exact=False))
        return sorted(found, key=lambda m: (not m.exact, kind_order(m.kind)))

    def periods_in(self, text: str) -> list[Period]:
        """Each year or month the text names as a time ("in 2020", "from October 2025", "2024 papers"),
        with the papers dated in it (none, if none is); a year inside a name ("AISTATS 2025") is not one."""
        out = []
        for m in PERIOD.finditer(text):
            if not (PERIOD_BEFORE.search(text[: m.start()]) or PERIOD_AFTER.match(text[m.end() :])):
                continue
            month = MONTH_NUMBERS.get((m.group(1) or "")[:3].lower())
            prefix = f"{m.group(2)}-{month:02d}" if month else m.group(2)
            out.append(Period(m.group(0), prefix, [p for p in self.papers if p.date and p.date.startswith(prefix)]))
        return out

    def categories_in(self, text: str) -> list[tuple[str, list[Paper]]]:
        """Papers of a category code the text names in capitals ("the CL category")."""
        codes = {p.category for p in self.papers if p.category}
        return [
            (code, [p for p in self.papers if p.category == code])
            for code in sorted(codes)
            if re.search(rf"\b{re.escape(code)}\b[^.?!]{{0,30}}\bcategor|\bcategor\w*\s+{re.escape(code)}\b", text)
        ]

    def comments_in(self, text: str) -> list[Paper]:
        """Papers whose page comment ("Technical report", "35 pages, 11 figures") the text quotes."""
        q = f" {fold(text)} "
        return [p for p in self.papers if any(len(c) > 6 and f" {fold(c)} " in q for c in p.comments)]

    def venues_in(self, text: str) -> list[tuple[str, list[Paper]]]:
        """(venue as written, papers whose page comment mentions it) for each venue the text names
        ("accepted to AISTATS 2025"). Venues are known only from comments; a venue none mentions has no papers."""
        out = []
        for m in VENUE_NAMED.finditer(text):
            pattern = mention_pattern(m.group(1))
            out.append((m.group(1), [p for p in self.papers if any(pattern.search(c) for c in p.comments)]))
        return out

    @cached_property
    def folded_titles(self) -> list[tuple[str, Paper]]:
        """(folded title, paper) for matching titles quoted in questions and chat history."""
        return [(fold(p.title).rstrip("…").strip(), p) for p in self.papers]

    def get(self, paper_id: str) -> Paper | None:
        return self.by_id.get(paper_id)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([p.model_dump(mode="json") for p in self.papers], ensure_ascii=False, indent=1))
        tmp.replace(path)  # atomic: a crash never leaves half a catalog

    @classmethod
    def load(cls, path: Path) -> Catalog:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([Paper.model_validate(d) for d in data])
