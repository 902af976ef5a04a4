"""Catalog stage: records from every page -> one clean `Paper` per distinct paper.

The same paper appears on several pages with slightly different abstracts (other LaTeX, a
changed last sentence). Copies are merged when their folded abstracts are near-identical
(measured on this corpus: true copies score >= 95, the closest distinct pair < 60) and nothing
contradicts it (two different titles or arXiv ids, or both copies on one page).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import re
import sqlite3
import sys
import tempfile
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rapidfuzz import fuzz

from rag.catalog_store import (
    ARXIV_IN_TEXT,
    NAME_TOKEN,
    TITLE_CANDIDATES,
    TITLE_POSTINGS_MAX,
    CatalogStore,
    date_columns,
    date_key,
    ngrams,
    token_char,
    word_terms,
    write_catalog,
)
from rag.corpus import SourceCount, discover, read
from rag.models import Entity, Paper, Record
from rag.parse import CorpusError, Problem
from rag.text import derive_title, fold

if TYPE_CHECKING:
    from rag.settings import CorpusSettings

MERGE_MIN_SCORE = 90.0  # fuzz.ratio on folded abstracts (full text, or the first 400 chars)
TITLE_MIN_SCORE = 90.0
NEAR_MISS_SCORE = 70.0  # pairs scoring between this and MERGE_MIN_SCORE are reported, not merged
SHINGLE = 5  # words per shingle used to find candidate pairs without comparing all pairs
BUCKET_MAX = 50  # a shingle shared by more abstracts is boilerplate, not identity
SHINGLE_PARTS = 16  # files the shingles are spilled to by hash: each is grouped alone


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
    sources: list[SourceCount] = field(default_factory=list)  # per file: format, records read, skipped

    @property
    def skipped(self) -> int:
        """Records, lines and files left out (each one is a problem with its file:line)."""
        return sum(p.skipped for p in self.problems)

    @property
    def empty_sources(self) -> list[str]:
        """Files that gave no paper at all: a wrong declared format, an empty or unreadable file."""
        return [s.name for s in self.sources if s.records == 0]

    def lost_sources(self, previous: Iterable[str]) -> list[str]:
        """Files that gave papers to the previous catalog (its provenance file names) and give none now.
        Applying such a catalog would silently delete a whole source's papers from the index: refuse it."""
        now = {s.name for s in self.sources if s.records}
        return sorted(set(previous) - now)

    def lines(self) -> list[str]:
        out = [
            f"pages: {self.pages}, copies read: {self.records}, merges: {len(self.merges)}, "
            f"skipped: {self.skipped}, problems: {len(self.problems)}"
        ]
        out += [f"source {s.name}: {s.format or 'unknown format'}, {s.records} read, {s.skipped} skipped"
                for s in self.sources]  # fmt: skip
        for m in self.merges:
            out.append(f"merged {m.paper_id} ({m.score:.0f}): {m.title[:70]!r} <- {', '.join(m.copies)}")
        out += [f"not merged: {n}" for n in self.near_misses]
        out += [f"skipped/noted: {p}" for p in self.problems]
        return out


def load_manifest(corpus_dir: Path, fmt: str | None = None) -> list[tuple[Path, str | None]]:
    """(path, declared format or None to detect) for every source of a corpus file or folder, in order.
    Entries that cannot be read are left out here; `build_catalog` reports each of them."""
    return [(s.path, s.format) for s in discover(Path(corpus_dir), fmt).sources]


def corpus_hash(corpus_dir: Path, fmt: str | None = None) -> str:
    """Identity of the corpus content: every source's name, declared format and bytes (read in blocks)."""
    h = hashlib.sha256()
    for src in discover(Path(corpus_dir), fmt).sources:
        h.update(f"{src.name}:{src.format}:".encode())
        try:
            with src.path.open("rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()[:16]


def _similarity(a: str, b: str) -> float:
    return max(fuzz.ratio(a, b), fuzz.ratio(a[:400], b[:400]))


def _conflict(a: Record, b: Record) -> str | None:
    if a.source.file == b.source.file:
        return "both copies are on the same page"
    if a.arxiv_id and b.arxiv_id and a.arxiv_id != b.arxiv_id:
        return f"different arXiv ids {a.arxiv_id} / {b.arxiv_id}"
    if a.doi and b.doi and a.doi != b.doi:
        return f"different DOIs {a.doi} / {b.doi}"
    if a.title and b.title and fuzz.ratio(fold(a.title), fold(b.title)) < TITLE_MIN_SCORE:
        return "different titles"
    return None


class _Spill:
    """Byte strings appended to a temporary file and read back by number (pread): what the merge reads again later,
    on disk instead of in memory. The file has no name (gone when closed, or when the process dies)."""

    def __init__(self, folder: Path | None):
        self._file = tempfile.TemporaryFile(dir=folder)
        self._ends = array("q", [0])
        self._dirty = False

    def __len__(self) -> int:
        return len(self._ends) - 1

    def add(self, data: bytes) -> None:
        self._file.write(data)
        self._ends.append(self._ends[-1] + len(data))
        self._dirty = True

    def __getitem__(self, i: int) -> bytes:
        if self._dirty:
            self._file.flush()
            self._dirty = False
        start = self._ends[i]
        return os.pread(self._file.fileno(), self._ends[i + 1] - start, start)

    def close(self) -> None:
        self._file.close()


class _Shingles:
    """(shingle hash, record number) of every record: word shingles near the start of the folded abstract, which
    find the candidate pairs without comparing all pairs. Kept as 64-bit hashes, spilled by hash into
    SHINGLE_PARTS files, so that grouping them (a sort) holds one part at a time, never every shingle of the corpus
    (~80 a record)."""

    ROW = np.dtype([("h", "<i8"), ("o", "<i8")])
    BUFFER = 1 << 20  # shingles held before they are written to their parts

    def __init__(self, folder: Path | None):
        self.folder = folder
        self._parts: list[Any] = [None] * SHINGLE_PARTS
        self._hashes, self._owners = array("q"), array("q")

    def add(self, i: int, key: str) -> None:
        words = key.split()[:80]
        shingles = {hash(" ".join(words[j : j + SHINGLE])) for j in range(0, max(1, len(words) - SHINGLE + 1))}
        self._hashes.extend(shingles)
        self._owners.extend([i] * len(shingles))
        if len(self._hashes) >= self.BUFFER:
            self._flush()

    def _flush(self) -> None:
        if not self._hashes:
            return
        rows = np.empty(len(self._hashes), dtype=self.ROW)
        rows["h"], rows["o"] = np.frombuffer(self._hashes, dtype=np.int64), np.frombuffer(self._owners, dtype=np.int64)
        part = rows["h"] % SHINGLE_PARTS
        for p in range(SHINGLE_PARTS):
            picked = rows[part == p]  # in record order: owners ascend within a part, as within a bucket
            if len(picked):
                if self._parts[p] is None:
                    self._parts[p] = tempfile.TemporaryFile(dir=self.folder)
                self._parts[p].write(picked.tobytes())
        self._hashes, self._owners = array("q"), array("q")

    def pairs(self, n: int) -> np.ndarray:
        """Every pair of the n records sharing a shingle that at most BUCKET_MAX records share, each once, as
        codes a * n + b (a < b), ascending: the order `merge_records` has always compared them in."""
        self._flush()
        codes = []
        for f in self._parts:
            if f is None:
                continue
            f.seek(0)
            rows = np.frombuffer(f.read(), dtype=self.ROW)
            order = np.argsort(rows["h"], kind="stable")
            h, o = rows["h"][order], rows["o"][order]
            del rows, order
            starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
            sizes = np.diff(np.r_[starts, len(h)])
            # Every pair inside each bucket, built per bucket size as arrays (owners ascend within a bucket).
            for size in range(2, BUCKET_MAX + 1):
                firsts = starts[sizes == size]
                if len(firsts):
                    members = o[firsts[:, None] + np.arange(size)]
                    upper, lower = np.triu_indices(size, 1)
                    codes.append(np.unique(members[:, upper].ravel() * n + members[:, lower].ravel()))
        if not codes:
            return np.zeros(0, dtype=np.int64)
        return np.unique(np.concatenate(codes))

    def close(self) -> None:
        for f in self._parts:
            if f is not None:
                f.close()


class _Records:
    """The records of a corpus as the merge reads them, spilled to disk (`spill_dir`, else the temp dir): each
    record and its folded abstract (the merge key), read back by number; plus their shingles. What stays in memory
    is a few numbers a record, not its text."""

    def __init__(self, spill_dir: Path | None):
        self._records, self._keys = _Spill(spill_dir), _Spill(spill_dir)
        self.shingles = _Shingles(spill_dir)

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: Record) -> None:
        key = fold(record.abstract)
        self.shingles.add(len(self._records), key)
        self._records.add(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
        self._keys.add(key.encode("utf-8", "surrogatepass"))

    def record(self, i: int) -> Record:
        rec: Record = pickle.loads(self._records[i])
        return rec

    def key(self, i: int) -> str:
        return self._keys[i].decode("utf-8", "surrogatepass")

    def close(self) -> None:
        self._records.close()
        self._keys.close()
        self.shingles.close()


def _pairs(codes: np.ndarray, n: int, step: int = 100_000) -> Iterator[tuple[int, int]]:
    """The (a, b) of pair codes, a slice at a time (millions of pairs at 1M records: no list of tuples)."""
    for start in range(0, len(codes), step):
        part = codes[start : start + step]
        yield from zip((part // n).tolist(), (part % n).tolist(), strict=True)


def paper_id_for(title: str | None, arxiv_id: str | None, abstract: str) -> str:
    """Stable id: from the real title, else the arXiv id, else the start of the abstract."""
    key = f"t:{fold(title)}" if title else (f"a:{arxiv_id}" if arxiv_id else f"x:{fold(abstract)[:200]}")
    return "p" + hashlib.sha1(key.encode()).hexdigest()[:9]


def merge_records(
    records: list[Record], report: CatalogReport, copies_out: list[list[Record]] | None = None
) -> list[Paper]:
    """Papers from records; `copies_out`, when given, receives each paper's copies (same order)."""
    held = _Records(None)
    try:
        for r in records:
            held.add(r)
        papers = []
        for copies, paper in _merged(held, report):
            papers.append(paper)
            if copies_out is not None:
                copies_out.append(copies)
        return papers
    finally:
        held.close()


def _merged(held: _Records, report: CatalogReport) -> Iterator[tuple[list[Record], Paper]]:
    """(copies, paper) of every distinct paper, in the order of each one's first copy: near-identical abstracts
    are merged (union-find over the candidate pairs) unless something contradicts it. Near misses go to `report`
    before the first paper comes out; merges as their papers do."""
    n = len(held)
    parent = list(range(n))
    members: dict[int, list[int]] = {}  # root -> its records, for groups of two or more: a merge never scans all

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    best: dict[int, float] = {}
    last, key_a = -1, ""
    for a, b in _pairs(held.shingles.pairs(n), n):
        if a != last:  # pairs come sorted by a: its key is read once
            last, key_a = a, held.key(a)
        score = _similarity(key_a, held.key(b))
        if score < NEAR_MISS_SCORE:
            continue
        rec_a, rec_b = held.record(a), held.record(b)
        where = f"{rec_a.source.file}:{rec_a.source.line} ~ {rec_b.source.file}:{rec_b.source.line}"
        if score < MERGE_MIN_SCORE:
            report.near_misses.append(f"{where} (similarity {score:.0f} < {MERGE_MIN_SCORE:.0f})")
            continue
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        group_a = [held.record(x) for x in members.get(ra, [ra])]
        group_b = [held.record(y) for y in members.get(rb, [rb])]
        conflict = next((c for x in group_a for y in group_b if (c := _conflict(x, y))), None)
        if conflict:
            report.near_misses.append(f"{where} (similarity {score:.0f}, but {conflict})")
            continue
        parent[rb] = ra
        members[ra] = members.pop(ra, [ra]) + members.pop(rb, [rb])
        best[ra] = min(best.get(ra, 100.0), best.pop(rb, 100.0), score)

    for records in members.values():
        records.sort()  # a group's copies in record (manifest) order
    for i in range(n):
        root = find(i)
        group = members.get(root)
        if group is not None and group[0] != i:
            continue  # came out with the group's first record
        copies = [held.record(j) for j in group] if group is not None else [held.record(i)]
        paper = _merge_copies(copies)
        if len(copies) > 1:
            copies_at = [f"{c.source.file}:{c.source.line}" for c in copies]
            report.merges.append(Merge(paper.paper_id, paper.title, copies_at, best.get(root, 100.0)))
        yield copies, paper


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
        doi=_first([c.doi for c in copies]),
        journal_ref=_first([c.journal_ref for c in copies]),
        categories=_first_list([c.categories for c in copies]),
        extra={k: v for c in reversed(copies) for k, v in c.extra.items()},  # the first copy's value wins
    )


def _first_list(values: list[list[str]]) -> list[str]:
    return next((v for v in values if v), [])


def build_catalog(corpus_dir: Path, settings: CorpusSettings | None = None) -> tuple[list[Paper], CatalogReport]:
    """Papers of a corpus file or folder, and what was merged, skipped and why.

    Every problem is reported with its file:line and reading goes on; it raises only when nothing at all
    could be read. A source that yields no paper is in `report.empty_sources`: compare with the previous
    catalog (`report.lost_sources`) before letting it replace an index."""
    report = CatalogReport()
    return list(iter_catalog(corpus_dir, report, settings)), report


def iter_catalog(
    corpus_dir: Path, report: CatalogReport, settings: CorpusSettings | None = None, spill_dir: Path | None = None
) -> Iterator[Paper]:
    """`build_catalog`'s papers one at a time, in the same order, holding neither the records nor the papers:
    the records are spilled to a temporary file in `spill_dir` (else the temp dir) while the corpus is read and
    read back as their papers are made. `report` is complete once the papers are exhausted."""
    from rag.settings import CorpusSettings

    settings = settings or CorpusSettings()
    corpus = discover(Path(corpus_dir), settings.format)
    held = _Records(spill_dir)
    try:
        for item in read(corpus, settings.max_record_bytes, report.sources):
            if isinstance(item, Problem):
                report.problems.append(item)
            else:
                held.add(item)
        report.pages = len(corpus.sources)
        report.records = len(held)
        if not len(held):
            shown = "; ".join(str(p) for p in report.problems[:5]) or "no files"
            more = f" (and {len(report.problems) - 5} more)" if len(report.problems) > 5 else ""
            how = ""
            if Path(corpus_dir).is_dir() and not (Path(corpus_dir) / "manifest.json").is_file():
                how = " (manifest.json: missing, so each file's format was detected from its content)"
            raise CorpusError(f"nothing could be ingested from {corpus_dir}{how}: {shown}{more}")
        seen: set[str] = set()
        for p in _drop_duplicates(_merged(held, report), report):
            if p.paper_id in seen:  # two distinct papers with one title: keep both, ids told apart
                p.paper_id = paper_id_for(None, p.arxiv_id, p.abstract)
            n = 1
            base = p.paper_id
            while p.paper_id in seen:  # same title and id too (kept after the duplicate check): still unique
                p.paper_id, n = f"{base}-{n}", n + 1
            seen.add(p.paper_id)
            yield p
    finally:
        held.close()


def _identity(c: Record | Paper) -> list[str]:
    return [k for k in (c.arxiv_id and f"arXiv:{c.arxiv_id}", c.doi and f"DOI {c.doi}") if k]


def _drop_duplicates(merged: Iterable[tuple[list[Record], Paper]], report: CatalogReport) -> Iterator[Paper]:
    """One paper per arXiv id and per DOI. Copies that did not merge (different abstracts) would be two papers
    with one identity: the first (in corpus order) keeps it; every later copy claiming it is dropped and
    reported where it was read. Copies of that paper that claim no identity (a page without ids) stay."""
    owner: dict[str, tuple[str, int]] = {}  # identity -> where its paper's first copy was read
    for copies, paper in merged:
        clashing = [c for c in copies if any(k in owner for k in _identity(c))]
        for c in clashing:
            key = next(k for k in _identity(c) if k in owner)
            file, line = owner[key]
            report.problems.append(
                Problem(c.source.file, c.source.line, f"skipped: duplicate {key} of {file}:{line} "
                        "with a different abstract; the first one is kept")
            )  # fmt: skip
        if clashing:
            rest = [c for c in copies if c not in clashing]
            if not rest:
                continue
            paper = _merge_copies(rest)
        there = paper.provenance[0]
        owner.update(dict.fromkeys(_identity(paper), (sys.intern(there.file), there.line)))
        yield paper


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


def period_prefixes(text: str) -> list[tuple[str, str]]:
    """(label as written, ISO date prefix) of each year or month the text names as a time."""
    out = []
    for m in PERIOD.finditer(text):
        if not (PERIOD_BEFORE.search(text[: m.start()]) or PERIOD_AFTER.match(text[m.end() :])):
            continue
        month = MONTH_NUMBERS.get((m.group(1) or "")[:3].lower())
        out.append((m.group(0), f"{m.group(2)}-{month:02d}" if month else m.group(2)))
    return out


@dataclass
class Period:
    label: str  # as the text wrote it: "October 2025"
    prefix: str  # of the ISO dates in it: "2025-10"
    paper_ids: list[str]  # the first IDS_KEPT in catalog order
    count: int  # all of them


# The paper ids a question keeps of a period, name or venue it names: a year of a million papers is ~100k of them
# (60 ms to read their ids), a prolific author thousands. A period is a filter for a search (by date, in SQL), a name
# or venue keeps the catalog positions of all its papers (search filters and ranks by position), and a listing shows
# the first papers, so none needs all their ids.
IDS_KEPT = 100
DATE_PREFIX = re.compile(r"\d{4}(-\d{2})?")  # the date filters `matching` answers from the date columns
PERIOD_SORTED_MAX = 5_000  # up to this many, a period's first papers come sorted from the date index; above it, from
# the rows in catalog order (`NOT INDEXED`: 1 in 200 papers or more, so ~20k rows read at most for 100; 16 ms at 1M)
# Browse words: up to this many papers the filters allow are read without asking the word index (a few ms at most; a
# common word's candidates alone take ~25 ms to list at 100k papers).
FILTERED_READ_MAX = 2_000


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


def _at_word_starts(words: list[str]) -> tuple[str, list[str]]:
    """SQL tests (and their arguments) of the word index's test on the text: each word after a space (the folded
    text is words split by spaces), or anywhere when it starts with punctuation."""
    starts = [bool(w) and token_char(w[0]) for w in words]
    tests = "".join(" AND instr(' ' || haystack, ?) > 0" if s else " AND instr(haystack, ?) > 0" for s in starts)
    return tests, [f" {w}" if s else w for w, s in zip(words, starts, strict=True)]


def _index_decides(words: list[str]) -> bool:
    """Each word one run of lowercase ASCII letters and digits, as the folded text holds them: a token starting with it
    is in the text, so the text test would hold for every candidate the word index gives."""
    return all(w.isascii() and w.isalnum() and w == w.lower() for w in words)


def _in_periods(keys: np.ndarray, prefixes: list[str]) -> np.ndarray:
    """Which of these date keys (`date_key`) fall in one of the periods (YYYY or YYYY-MM prefixes)."""
    spans = [(date_key(d), date_key(d) + (10_000 if len(d) == 4 else 100)) for d in prefixes]
    return np.logical_or.reduce([(keys >= lo) & (keys < hi) for lo, hi in spans])


@dataclass
class NameMatch:
    kind: str  # "author" | "affiliation" | "venue"
    name: str
    paper_ids: list[str]  # of the first IDS_KEPT papers, in catalog order
    exact: bool
    said: str = ""  # the words of the text that name it (a short form: "jacob springer", "apple")
    ords: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # catalog positions of all, ascending


def kind_order(kind: str) -> int:
    return 0 if kind == "author" else 1


class Catalog:
    """The papers, with the lookups understanding, retrieval and browsing need, each one an index probe in the
    catalog database (rag/catalog_store.py): nothing here loops over the papers per question.

    `Catalog.open(path)` reads a generation's catalog.sqlite read-only; `Catalog.from_papers(papers)` (or
    `Catalog(papers)`) builds the same database in memory for tests and small callers."""

    def __init__(self, papers: Iterable[Paper] | None = None, *, store: CatalogStore | None = None):
        self.store = store if store is not None else CatalogStore.memory(papers or [])
        self._n = int(self.store.meta["papers"])
        self._columns: tuple[np.ndarray, np.ndarray] | None = None
        self._optional: dict[str, bool] = {}  # which optional tables the catalog has (`has`)

    @classmethod
    def from_papers(cls, papers: Iterable[Paper]) -> Catalog:
        return cls(store=CatalogStore.memory(papers))

    @classmethod
    def open(cls, path: Path) -> Catalog:
        return cls(store=CatalogStore.open(path))

    @classmethod
    def load(cls, path: Path) -> Catalog:
        """A catalog file: the SQLite database, or the JSON list of papers older versions wrote."""
        with open(path, "rb") as f:
            head = f.read(16)
        if head.startswith(b"SQLite format 3"):
            return cls.open(path)
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls.from_papers(Paper.model_validate(d) for d in data)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_catalog(path, self.iter_papers())

    # -- papers ---------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def __contains__(self, paper_id: object) -> bool:
        return bool(self.store.rows("SELECT 1 FROM papers WHERE paper_id = ? LIMIT 1", (paper_id,)))

    def get(self, paper_id: str) -> Paper | None:
        row = self.store.rows("SELECT json FROM papers WHERE paper_id = ? ORDER BY ord LIMIT 1", (paper_id,))
        return Paper.model_validate_json(row[0][0]) if row else None

    def get_many(self, paper_ids: Iterable[str]) -> list[Paper]:
        """The known papers among these ids, in the order asked (each once)."""
        wanted = list(dict.fromkeys(paper_ids))
        got = {pid: js for pid, js in self.store.rows_in("SELECT paper_id, json FROM papers WHERE paper_id IN ({})",
                                                          wanted)}  # fmt: skip
        return [Paper.model_validate_json(got[pid]) for pid in wanted if pid in got]

    def at(self, ords: Iterable[int]) -> list[Paper]:
        """Papers by catalog position (the BM25 document numbers), in the order asked."""
        wanted = [int(o) for o in ords]
        got = dict(self.store.rows_in("SELECT ord, json FROM papers WHERE ord IN ({})", wanted))
        return [Paper.model_validate_json(got[o]) for o in wanted if o in got]

    def ids_at(self, ords: Iterable[int]) -> list[str]:
        wanted = [int(o) for o in ords]
        got = self.id_map(wanted)
        return [got[o] for o in wanted if o in got]

    def id_map(self, ords: Iterable[int]) -> dict[int, str]:
        """catalog position -> paper id, for the positions that exist."""
        wanted = sorted({int(o) for o in ords})
        return dict(self.store.rows_in("SELECT ord, paper_id FROM papers INDEXED BY papers_ord_id WHERE ord IN ({})",
                                       wanted))  # fmt: skip

    def ids_in_order(self) -> list[str]:
        """Every paper id in catalog order (position i is the paper at ord i): one index-only read."""
        return [r[0] for r in self.store.rows("SELECT paper_id FROM papers INDEXED BY papers_ord_id ORDER BY ord")]

    def by_arxiv_id(self, arxiv_id: str) -> list[Paper]:
        rows = self.store.rows("SELECT json FROM papers WHERE arxiv_id = ? ORDER BY ord", (arxiv_id,))
        return [Paper.model_validate_json(r[0]) for r in rows]

    def iter_papers(self, batch: int = 1000) -> Iterator[Paper]:
        """Every paper in catalog order, read a batch at a time (never the whole list in memory)."""
        last = -1
        while True:
            rows = self.store.rows("SELECT ord, json FROM papers WHERE ord > ? ORDER BY ord LIMIT ?", (last, batch))
            if not rows:
                return
            for _, js in rows:
                yield Paper.model_validate_json(js)
            last = rows[-1][0]

    @property
    def papers(self) -> list[Paper]:
        """Every paper, in a list: for tests and small callers only; per-question code uses the lookups."""
        return list(self.iter_papers())

    @property
    def by_id(self) -> _ById:
        """`catalog.by_id[pid]`: a mapping view over `get`."""
        return _ById(self)

    # -- counts and facets ----------------------------------------------------------------------------
    def dated_count(self) -> int:
        return int(self.store.meta["dated"])

    def any_truncated(self) -> bool:
        """Does any page list only the first authors of some paper ('et al.')?"""
        return bool(self.store.meta["truncated"])

    def categories(self) -> list[str]:
        return list(self.store.meta["categories"])

    def sources(self) -> list[str]:
        return list(self.store.meta["sources"])

    def provenance_files(self) -> list[str]:
        """Every file that gave a copy of some paper."""
        return [r[0] for r in self.store.rows("SELECT file FROM provenance_files ORDER BY file")]

    def facet_counts(self) -> tuple[dict[str, int], dict[str, int], dict[int, int]]:
        """(papers per category in capitals, per source page format, per year)."""
        cats: Counter[str] = Counter()
        for cat, n in self.store.rows("SELECT category, count(*) FROM papers WHERE category IS NOT NULL GROUP BY 1"):
            cats[cat.upper()] += n
        pages = dict(self.store.rows("SELECT source, count(*) FROM paper_sources GROUP BY source"))
        years = dict(self.store.rows("SELECT year, count(*) FROM papers WHERE year IS NOT NULL GROUP BY year"))
        return dict(cats), pages, years

    # -- filters --------------------------------------------------------------------------------------
    def _where(self, f: Any) -> tuple[str, list[Any]]:
        """SQL conditions for a `rag.retrieve.Filters` (same meaning as `Filters.allows`)."""
        conds: list[str] = []
        args: list[Any] = []
        if f.paper_ids:
            conds.append(f"paper_id IN ({','.join('?' * len(f.paper_ids))})")
            args += list(f.paper_ids)
        if f.dates:  # a date prefix: the dates from "2025-10" up to (not including) "2025-10" + the last character
            conds.append("(" + " OR ".join("(date >= ? AND date < ?)" for _ in f.dates) + ")")
            args += [x for d in f.dates for x in (d, d + "\U0010ffff")]
        if f.authors:
            conds.append("ord IN (SELECT ord FROM name_papers WHERE name_id IN (SELECT value FROM json_each(?)))")
            args.append(json.dumps(self._author_ids(f.authors)))
        if f.year_from:
            conds.append("year >= ?")
            args.append(f.year_from)
        if f.year_to:
            conds.append("year <= ?")
            args.append(f.year_to)
        if f.category:
            conds.append("category_lc = ?")
            args.append(f.category.lower())
        if f.source:
            conds.append("ord IN (SELECT ord FROM paper_sources WHERE source = ?)")
            args.append(f.source)
        return (" AND ".join(conds) or "1"), args

    def _author_ids(self, texts: list[str]) -> list[int]:
        """Ids of the author names containing any of these texts (in any case): from the names' trigram index for a
        text of three characters or more (every trigram present, then the same `instr` test), else by reading every
        name, as a catalog written without the index does."""
        test = "kind = 'author' AND instr(name_lc, ?) > 0"
        found: set[int] = set()
        for text in (t.lower() for t in texts):
            rows = None
            if len(text) >= 3 and self.has("name_grams"):
                grams = " AND ".join('"' + text[i : i + 3].replace('"', '""') + '"' for i in range(len(text) - 2))
                with contextlib.suppress(sqlite3.OperationalError):  # a text the index cannot look up: read them all
                    rows = self.store.rows("SELECT id FROM names WHERE id IN (SELECT rowid FROM name_grams WHERE "
                                           f"name_grams MATCH ?) AND {test}", (grams, text))  # fmt: skip
            if rows is None:
                rows = self.store.rows(f"SELECT id FROM names WHERE {test}", (text,))
            found |= {r[0] for r in rows}
        return sorted(found)

    def matching(self, f: Any) -> np.ndarray:
        """Catalog positions of the papers a `Filters` allows, ascending: positions only (a year of a million
        papers is ~100k of them; their ids and SQL's sort cost ~70 ms more). A filter by date and year alone tests
        the catalog's date columns in one vectorised pass; any other, the indexes."""
        if not (f.paper_ids or f.authors or f.category or f.source) and all(DATE_PREFIX.fullmatch(d) for d in f.dates):
            keys, years = self._date_columns()
            keep = np.ones(len(keys), dtype=bool)
            if f.dates:
                keep &= _in_periods(keys, f.dates)
            if f.year_from:
                keep &= years >= f.year_from
            if f.year_to:
                keep &= (years > 0) & (years <= f.year_to)
            return np.flatnonzero(keep).astype(np.int64)
        where, args = self._where(f)
        rows = self.store.rows(f"SELECT ord FROM papers WHERE {where}", args)
        return np.sort(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))

    def positions_of(self, e: Entity) -> np.ndarray:
        """Catalog positions of an entity's papers, ascending: all of a name's or venue's, else of the ids it lists
        (an entity that came without positions)."""
        if e.ords:
            return np.asarray(e.ords, dtype=np.int64)
        return self.ords_of(e.paper_ids)

    def ords_of(self, paper_ids: Iterable[str]) -> np.ndarray:
        """Catalog positions of the known ones of these papers, ascending."""
        return np.array(sorted(self.positions(paper_ids).values()), dtype=np.int64)

    def dated_among(self, ords: np.ndarray, prefixes: list[str]) -> np.ndarray:
        """The positions among these whose paper is dated in one of the periods (YYYY or YYYY-MM prefixes)."""
        if not prefixes or not len(ords):
            return ords[:0]
        if all(DATE_PREFIX.fullmatch(d) for d in prefixes):
            return ords[_in_periods(self._date_columns()[0][ords], prefixes)]
        papers, keys = self.at(ords.tolist()), tuple(prefixes)
        dated = [o for o, p in zip(ords.tolist(), papers, strict=True) if p.date and p.date.startswith(keys)]
        return np.array(dated, dtype=np.int64)

    def _date_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(date key, year) of every paper by catalog position: stored by the catalog's writer, or computed once
        for a catalog written before (1M papers: ~1 s)."""
        if self._columns is None:
            stored = dict(self.store.rows("SELECT name, data FROM columns")) if self.store.has_table("columns") else {}
            if stored:
                cols = {k: np.frombuffer(v, dtype=np.int32) for k, v in stored.items()}
            else:
                cols = date_columns(self.store.rows("SELECT ord, date, year FROM papers"), self._n)
            self._columns = (cols["date_key"], cols["year"])  # one assignment: safe for concurrent questions
        return self._columns

    def positions(self, paper_ids: Iterable[str]) -> dict[str, int]:
        """paper id -> catalog position, for the known ones."""
        return dict(self.store.rows_in("SELECT paper_id, ord FROM papers WHERE paper_id IN ({})",
                                       sorted(set(paper_ids))))  # fmt: skip

    def by_date(self, ords: np.ndarray | None = None, newest: bool = True) -> tuple[np.ndarray, int]:
        """(the dated positions among `ords`, or among all papers, newest or oldest first, ties in catalog order; how
        many of them carry no date). One pass over the date columns: a million papers sort in ~0.1 s."""
        keys = self._date_columns()[0]
        ords = np.arange(len(keys), dtype=np.int64) if ords is None else np.asarray(ords, dtype=np.int64)
        k = keys[ords]
        dated, k = ords[k >= 0], k[k >= 0]
        order = np.lexsort((dated, -k.astype(np.int64) if newest else k))
        return dated[order], int(len(ords) - len(dated))

    def with_words(self, words: list[str]) -> np.ndarray:
        """Positions, ascending, of the papers holding every word as `page` tests them (at a word start of the folded
        title, abstract, authors or ids): the papers that mention a subject."""
        if not words:
            return np.zeros(0, dtype=np.int64)
        ords = self._word_index(words)
        if ords is not None and _index_decides(words):
            return np.sort(ords)
        tests, targs = _at_word_starts(words)
        if ords is None:  # no index: every paper read
            rows = self.store.rows(f"SELECT ord FROM papers WHERE 1{tests} ORDER BY ord", targs)
        else:  # the candidates as one JSON list (one parameter, any length): only their rows are read
            rows = self.store.rows(f"SELECT ord FROM papers WHERE ord IN (SELECT value FROM json_each(?)){tests} "
                                   "ORDER BY ord", [json.dumps(ords.tolist()), *targs])  # fmt: skip
        return np.array([r[0] for r in rows], dtype=np.int64)

    def _word_index(self, words: list[str]) -> np.ndarray | None:
        """The candidates the word index gives for every word (a token starting with each), or None when there is no
        index or nothing it can look up."""
        terms = [t for w in words for t in word_terms(w)]
        if not terms or not self.has("paper_words"):
            return None
        try:
            found = self.store.rows("SELECT json_group_array(rowid) FROM paper_words WHERE paper_words MATCH ?",
                                    [" AND ".join(terms)])[0][0]  # fmt: skip
        except sqlite3.OperationalError:  # a term the index's tokenizer splits in two (a letter newer than it)
            return None
        return np.array(json.loads(found), dtype=np.int64)

    def page(self, f: Any, words: list[str], offset: int, limit: int) -> tuple[int, list[Paper]]:
        """(how many papers match, one page of them): filters, and words that must all occur in the folded
        title, abstract, authors or ids, each at the start of a word there when the word starts with a letter or
        digit: "former" finds "former", "formers", not "transformer"; "rl" not "world". The catalog's word index
        (`paper_words`) gives the candidates (a word starting with each word); only their rows are read and tested
        (`instr`). Up to FILTERED_READ_MAX papers the filters allow are read without the index, each word tested
        at a word start. A catalog written without the index answers as before it: a word found anywhere, every
        allowed paper read."""
        where, args = self._where(f)
        tests = "".join(" AND instr(haystack, ?) > 0" for _ in words)
        if not self.has("paper_words"):
            return self._page(where + tests, [*args, *words], offset, limit)
        terms = [t for w in words for t in word_terms(w)]
        # The filter's positions decide between the word index and reading the allowed rows: only words need it.
        allowed = self.matching(f) if terms and where != "1" else None  # "1": no filter
        if terms and (allowed is None or len(allowed) > FILTERED_READ_MAX):
            if (ords := self._word_index(words)) is not None:
                if allowed is not None:  # the filters from the date columns or their indexes, not the rows
                    ords = np.intersect1d(ords, allowed, assume_unique=True)
                if _index_decides(words):  # counted and paged from the index alone (100k papers, "model": 217 -> 33 ms)
                    return len(ords), self.at(np.sort(ords)[offset : offset + limit].tolist())
                # The candidates as one JSON list (one parameter, any length): only their rows are read.
                return self._page("ord IN (SELECT value FROM json_each(?))" + tests,
                                  [json.dumps(ords.tolist()), *words], offset, limit)  # fmt: skip
        tests, targs = _at_word_starts(words)
        return self._page(where + tests, [*args, *targs], offset, limit)

    def _page(self, where: str, args: list[Any], offset: int, limit: int) -> tuple[int, list[Paper]]:
        total = int(self.store.rows(f"SELECT count(*) FROM papers WHERE {where}", args)[0][0])
        rows = self.store.rows(f"SELECT json FROM papers WHERE {where} ORDER BY ord LIMIT ? OFFSET ?",
                               [*args, limit, offset])  # fmt: skip
        return total, [Paper.model_validate_json(r[0]) for r in rows]

    def has(self, table: str) -> bool:
        """Was the catalog written with this optional table (`paper_words`: the browse word index; `name_grams`: the
        names' trigrams)? Asked once per catalog; without one, its lookups read the rows as before it."""
        if table not in self._optional:
            self._optional[table] = self.store.has_table(table)
        return self._optional[table]

    # -- what a question names --------------------------------------------------------------------------
    def names_in(self, text: str) -> list[NameMatch]:
        """Authors and affiliations the text names: full names, or a distinctive surname alone."""
        words = fold(text).split()
        grams = ngrams(words, self.store.meta["name_lengths"])
        found: dict[int, NameMatch] = {}
        named: set[str] = set()  # surnames of the authors named in full: "Noam Razin" is not also every other Razin
        for i, kind, name in self.store.rows_in("SELECT id, kind, name FROM names WHERE folded IN ({})", sorted(grams)):
            if len(fold(name)) >= 4:
                found[i] = NameMatch(kind, name, [], exact=True)
                if kind == "author":
                    named.add(fold(name).split()[-1])
        surnames = sorted({w for w in words if len(w) > 3} - named)
        for i, kind, name in self.store.rows_in(
            # The partial index by name: SQLite's planner scanned the table for a long IN list (measured at 20k).
            "SELECT id, kind, name FROM names INDEXED BY names_surname "
            "WHERE surname IS NOT NULL AND surname IN ({}) AND +kind = 'author'",
            surnames,
        ):
            if i not in found and len(fold(name)) >= 4:
                found[i] = NameMatch(kind, name, [], exact=False)
        self._fill_papers(found)
        return sorted(found.values(), key=lambda m: (not m.exact, kind_order(m.kind)))

    # `+kind`: never look names up by their kind (half the table); the name columns' indexes decide.
    def short_names_in(self, text: str) -> list[NameMatch]:
        """Names the text gives in a short form: an author's "first last" of a longer name ("Jacob Springer" for
        "Jacob Mitchell Springer"), an affiliation's first word ("apple" for "apple-ml"); the caller decides
        whether the text uses the word as that name."""
        words = fold(text).split()
        found: dict[int, NameMatch] = {}
        pairs = sorted(ngrams(words, [2]))
        for i, kind, name, short in self.store.rows_in(
            # The partial index by name: SQLite's planner scanned the table for a long IN list (measured at 20k).
            "SELECT id, kind, name, short FROM names INDEXED BY names_short "
            "WHERE short IS NOT NULL AND short IN ({}) AND +kind = 'author'",
            pairs,
        ):
            found[i] = NameMatch(kind, name, [], exact=False, said=short)
        for i, kind, name, head in self.store.rows_in(
            # The partial index by name: SQLite's planner scanned the table for a long IN list (measured at 20k).
            "SELECT id, kind, name, head FROM names INDEXED BY names_head "
            "WHERE head IS NOT NULL AND head IN ({}) AND +kind = 'affiliation'",
            sorted(set(words)),
        ):
            found[i] = NameMatch(kind, name, [], exact=False, said=head)
        self._fill_papers(found)
        return list(found.values())

    def _fill_papers(self, found: dict[int, NameMatch]) -> None:
        """Each name's papers: all their positions, the first ones' ids (an author of thousands of papers: their
        ids were most of a question's understanding at 1M); `found` ends in name order (first seen first)."""
        ords: dict[int, list[int]] = {}
        for name_id, o in self.store.rows_in(
            "SELECT name_id, ord FROM name_papers WHERE name_id IN ({}) ORDER BY name_id, ord", sorted(found)
        ):
            ords.setdefault(name_id, []).append(o)
        ids = self.id_map(o for v in ords.values() for o in v[:IDS_KEPT])
        for i in sorted(found):
            mine = ords.get(i, [])
            found[i].ords = np.array(mine, dtype=np.int64)
            found[i].paper_ids = [ids[o] for o in mine[:IDS_KEPT]]
            found[i] = found.pop(i)  # re-insert in id order

    def periods_in(self, text: str) -> list[Period]:
        """Each year or month the text names as a time ("in 2020", "from October 2025", "2024 papers"),
        with the papers dated in it (none, if none is); a year inside a name ("AISTATS 2025") is not one."""
        out = []
        for label, prefix in period_prefixes(text):
            span = (prefix, prefix + "\U0010ffff")
            count = int(self.store.rows("SELECT count(*) FROM papers WHERE date >= ? AND date < ?", span)[0][0])
            if count <= PERIOD_SORTED_MAX:
                sql = "SELECT paper_id FROM papers WHERE date >= ? AND date < ? ORDER BY ord LIMIT ?"
            else:
                sql = "SELECT paper_id FROM papers NOT INDEXED WHERE date >= ? AND date < ? ORDER BY ord LIMIT ?"
            ids = [r[0] for r in self.store.rows(sql, (*span, IDS_KEPT))]
            out.append(Period(label, prefix, ids, count))
        return out

    def categories_in(self, text: str) -> list[tuple[str, list[str]]]:
        """Papers of a category code the text names in capitals ("the CL category")."""
        out = []
        for code in self.categories():
            if re.search(rf"\b{re.escape(code)}\b[^.?!]{{0,30}}\bcategor|\bcategor\w*\s+{re.escape(code)}\b", text):
                sql = "SELECT paper_id FROM papers WHERE category_lc = ? AND category = ? ORDER BY ord"
                rows = self.store.rows(sql, (code.lower(), code))
                out.append((code, [r[0] for r in rows]))
        return out

    def comments_in(self, text: str) -> list[Paper]:
        """Papers whose page comment ("Technical report", "35 pages, 11 figures") the text quotes."""
        grams = ngrams(fold(text).split(), self.store.meta["comment_lengths"])
        rows = self.store.rows_in("SELECT ord FROM comments WHERE folded IN ({})", sorted(grams))
        ords = sorted({r[0] for r in rows})
        return self.at(ords)

    def mentioning(self, venue: str) -> list[str]:
        """Papers whose journal reference or arXiv comment names the venue ("AISTATS 2025") as whole words."""
        return [pid for _, pid in self._mentioning(venue)]

    def _mentioning(self, venue: str) -> list[tuple[int, str]]:
        """(position, id) of `mentioning`'s papers, in catalog order: the full-text index finds the candidates,
        the same pattern as ever decides."""
        phrase = '"' + venue.replace('"', '""') + '"'
        try:
            ords = [r[0] for r in self.store.rows("SELECT rowid FROM venue_notes WHERE venue_notes MATCH ? "
                                                  "ORDER BY rowid", (phrase,))]  # fmt: skip
        except sqlite3.OperationalError:  # nothing the full-text index can search for
            return []
        pattern = mention_pattern(venue)  # the notes are joined by newlines, which a venue name never matches
        rows = self.store.rows_in("SELECT ord, paper_id, notes FROM papers WHERE ord IN ({})", ords)
        return [(o, pid) for o, pid, notes in sorted(rows) if pattern.search(notes)]

    def venue(self, name: str) -> NameMatch:
        """A venue as written ("AISTATS 2025") and the papers whose page comment mentions it."""
        found = self._mentioning(name)
        ords = np.array([o for o, _ in found], dtype=np.int64)
        return NameMatch("venue", name, [pid for _, pid in found[:IDS_KEPT]], exact=True, ords=ords)

    def venues_in(self, text: str) -> list[NameMatch]:
        """Each venue the text names ("accepted to AISTATS 2025"), with the papers whose page comment mentions it.
        Venues are known only from comments; a venue none mentions has no papers."""
        return [self.venue(m.group(1)) for m in VENUE_NAMED.finditer(text)]

    def token_papers(self, token: str) -> tuple[int, list[str]]:
        """(how many papers use this coined name or capitalised word in their title or abstract, the first few
        of them sorted); `token` lowercased."""
        row = self.store.rows("SELECT n, ids FROM name_tokens WHERE token = ?", (token,))
        return (int(row[0][0]), sorted(row[0][1].split())) if row else (0, [])

    def uses_word(self, word: str) -> bool:
        """Does any title or abstract use this lowercase word?"""
        return bool(self.store.rows("SELECT 1 FROM vocabulary WHERE word = ?", (word,)))

    def one_edit_from(self, word: str) -> bool:
        """Is a title or abstract word one edit (a letter dropped, added, changed or two swapped) from this
        lowercase word? "hallucinatons" is "hallucinations" misspelt."""
        letters = "abcdefghijklmnopqrstuvwxyz"
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        near = {a + b[1:] for a, b in splits if b}
        near |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        near |= {a + c + b[1:] for a, b in splits if b for c in letters}
        near |= {a + c + b for a, b in splits for c in letters}
        near.discard(word)
        return bool(self.store.rows_in("SELECT 1 FROM vocabulary WHERE word IN ({})", sorted(near)))

    def shortens(self, word: str) -> bool:
        """Is this lowercase word a title or abstract word cut short ("reparam" of "reparameterization", "coords"
        of "coordinates")? An abbreviation, not a name."""
        stem = word.removesuffix("s")
        if len(stem) < 4:
            return False
        return bool(self.store.rows("SELECT 1 FROM vocabulary WHERE word > ? AND word < ? LIMIT 1", (stem, stem + "{")))

    def word_df(self, word: str) -> int:
        """How many papers use this lowercase word in their title or abstract."""
        row = self.store.rows("SELECT df FROM vocabulary WHERE word = ?", (word,))
        return int(row[0][0]) if row else 0

    def titled_count(self) -> int:
        return int(self.store.meta["titled"])

    def title_df(self, words: Iterable[str]) -> dict[str, int]:
        """How many (real) titles use each word."""
        return dict(self.store.rows_in("SELECT word, df FROM title_df WHERE word IN ({})", sorted(set(words))))

    def titles_sharing(self, df: dict[str, int], weight: dict[str, float]) -> list[tuple[str, str, list[str]]]:
        """(paper id, title, folded title words) of the real titles sharing two or more of the question's title
        words, in catalog order: the TITLE_CANDIDATES of them with the most shared `weight` (the words' idf).
        Titles are found through the rarer words (each in at most TITLE_POSTINGS_MAX titles); a word more titles
        use counts only towards titles found that way. `df`: `title_df(words)`."""
        rare = sorted(w for w in weight if 0 < df.get(w, 0) <= TITLE_POSTINGS_MAX)
        if not rare:
            return []
        need = 1 if any(df.get(w, 0) > TITLE_POSTINGS_MAX for w in weight) else 2
        values = ",".join("(?,?)" for _ in rare)
        rows = self.store.rows(
            f"WITH q(word, w) AS (VALUES {values}) SELECT p.paper_id, p.title, p.title_folded FROM papers p JOIN "
            "(SELECT tw.ord AS ord, sum(q.w) AS mass FROM q JOIN title_words tw ON tw.word = q.word GROUP BY tw.ord "
            f"HAVING count(*) >= {need} ORDER BY mass DESC, tw.ord LIMIT {TITLE_CANDIDATES}) t ON t.ord = p.ord "
            "ORDER BY p.ord",
            [x for w in rare for x in (w, weight[w])],
        )
        return [(pid, title, folded.split()) for pid, title, folded in rows]

    def papers_named(self, text: str) -> list[str]:
        """Paper ids whose title or arXiv id appears in `text`, in order of appearance."""
        return _in_order(self._named_at(text))

    def papers_mentioned(self, text: str) -> list[str]:
        """`papers_named`, papers called by the coined name their title opens with, spelt as the title spells it
        ("InfiR2" of "InfiR2: A Comprehensive FP8 ...", not "dump" for "DUMP: ..."), by their title's quoted first
        words, or by their id: how a chat reply names them."""
        found = self._named_at(text, loosely=True)
        for m in NAME_TOKEN.finditer(text):
            for pid in self.token_papers(m.group(0).lower())[1]:
                paper = self.get(pid)
                if paper and not paper.title_derived and paper.title.partition(":")[0].strip() == m.group(0):
                    found.setdefault(pid, m.start())
        return _in_order(found)

    def _named_at(self, text: str, loosely: bool = False) -> dict[str, int]:
        """Paper id -> where the text gives its title or arXiv id; `loosely`, also where it quotes the title's first
        words or gives the paper's id, as a chat reply names papers (a question quoting words a title starts with may
        mean the words, not the paper)."""
        folded = fold(text)
        found: dict[str, int] = {}
        keys = sorted(ngrams(folded.split(), [1, 2, 3]))
        rows = self.store.rows_in(
            "SELECT p.paper_id, p.title_folded, p.title_derived, p.arxiv_id FROM title_keys k "
            "JOIN papers p ON p.ord = k.ord WHERE k.key IN ({})",
            keys,
        )
        for m in ARXIV_IN_TEXT.finditer(text):
            rows += [(p.paper_id, fold(p.title), p.title_derived, p.arxiv_id) for p in self.by_arxiv_id(m.group(1))]
        # A quoted or bracketed title's first words name it when no other title starts so: the part before its
        # colon ("'Debate or Vote'"), or a name spelt out ("KARD (Knowledge-Augmented Reasoning Distillation)").
        quoted = QUOTED_OR_BRACKETED.finditer(text) if loosely else iter(())
        heads = [(h, m.start()) for m in quoted if len((h := fold(m.group(m.lastindex or 1))).split()) >= 3]
        opening: dict[str, list[tuple[str, int]]] = {}
        for pid, title, derived, arxiv_id in rows:
            # Derived titles are the abstract's first words: only a long quote of them identifies a paper.
            title = title.rstrip("…").strip()
            pos = folded.find(title) if len(title) >= (40 if derived else 12) else -1
            if pos < 0 and arxiv_id:
                pos = text.find(arxiv_id)
            if pos >= 0:
                found[pid] = pos
            elif not derived:
                for head, at in heads:
                    if title == head or title.startswith(head + " "):
                        opening.setdefault(head, []).append((pid, at))
        for (pid, at), *others in opening.values():
            if not others:
                found.setdefault(pid, at)
        if loosely:  # the catalog's own paper ids, as a chat reply or a client may quote them ("(p7997112d0)")
            for m in PAPER_ID_IN_TEXT.finditer(text):
                if self.get(m.group(0)) is not None:
                    found.setdefault(m.group(0), m.start())
        return found


QUOTED_OR_BRACKETED = re.compile(r"(?<!\w)['\"“‘]([^'\"“”‘’\n]{12,200})['\"”’](?!\w)|\(([^()\n]{12,200})\)")
PAPER_ID_IN_TEXT = re.compile(r"\bp[0-9a-f]{9}\b")


def _in_order(found: dict[str, int]) -> list[str]:
    return [pid for pid, _ in sorted(found.items(), key=lambda kv: (kv[1], kv[0]))]


class _ById:
    """A read-only mapping view: paper id -> Paper, one lookup per access."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def __getitem__(self, paper_id: str) -> Paper:
        p = self.catalog.get(paper_id)
        if p is None:
            raise KeyError(paper_id)
        return p

    def __contains__(self, paper_id: object) -> bool:
        return paper_id in self.catalog

    def get(self, paper_id: str) -> Paper | None:
        return self.catalog.get(paper_id)
