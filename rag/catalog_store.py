"""The catalog on disk: one SQLite file per index generation, holding every paper and, as indexed tables, every
lookup a question needs, so that understanding a question costs a few index probes whatever the corpus size.

Written once by `rag ingest` (`write_catalog`, in batches: memory stays bounded by the batch, not the corpus) and
opened read-only by every process that answers (`CatalogStore.open`: a `file:...?mode=ro&immutable=1` URI, so it
works on a read-only filesystem and takes no locks; a generation's files are never changed in place). Small
callers and tests get the same schema in an in-memory database (`CatalogStore.memory`). One connection per thread.

Tables (what a question's words are looked up in):
- papers: one row per paper in catalog order (`ord`, also the BM25 document number), the Paper as JSON, and the
  columns filters use (arXiv id, date, year, category) with an index each;
- names / name_papers: authors and affiliations by folded full name, by surname, by "first last" short form and
  (affiliations) by first word;
- comments: arXiv/page comments by folded text; venue_notes: FTS5 over journal references and comments;
- name_tokens: coined names ('TarFlow', 'SliM-LLM') -> how many papers use them and the first few of those papers;
- vocabulary: every word of titles and abstracts, with how many papers use it (the misspelling check leaves
  corpus words alone; a capitalised common word is not a paper's name);
- title_words / title_df: title words -> papers, and their document frequency over titles;
- title_keys: the first three words of each title, to find titles quoted in a question or an answer;
- paper_words (optional: a catalog written before it has none, and browsing scans): FTS5 over each paper's
  browse search text (`haystack`), rowid = ord, for the browse word search.
- name_grams (optional, likewise: without it the author filter reads every name): FTS5 trigrams of the names.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import threading
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from rag.models import Paper
from rag.text import fold

# Raise it with any change to the tables or meta: `rag ingest` then rewrites the catalog. (The `columns` table is
# optional: a catalog written before it has its columns computed when first needed; so is `paper_words`: without
# it the browse word search scans.)
SCHEMA_VERSION = 6
BATCH = 2000  # papers per write transaction: the writer holds one batch, never the corpus
IN_CHUNK = 500  # values per `IN (...)` list
TOKEN_IDS_KEPT = 4  # a coined name used by more papers than this names no paper; its ids need not be kept
TITLE_POSTINGS_MAX = 5000  # a title word in more titles than this only counts for titles rarer words found
TITLE_CANDIDATES = 100  # titles sharing the most with a question that are scored word by word (at 527 papers: all)

# Coined names ('TarFlow', 'L2M', 'SliM-LLM') and capitalised words: what may name one paper.
NAME_TOKEN = re.compile(
    r"\b(?=[A-Za-z0-9-]*[A-Za-z])(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*-[A-Z0-9][A-Za-z0-9]*|[A-Z][a-z]+[A-Z][A-Za-z0-9]*"
    r"|[A-Z]{2,}[a-z]*[A-Za-z0-9]*|[A-Za-z]+[0-9][A-Za-z0-9]*)\b"
)
CAPITALISED = re.compile(r"\b[A-Z][a-z]{3,}\b")
HAS_CAPITAL = re.compile(r"\b[A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*\b")
WORD = re.compile(r"[a-z0-9]+")
ARXIV_IN_TEXT = re.compile(r"\b(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?/\d{7})")

SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE papers(
    ord INTEGER PRIMARY KEY, paper_id TEXT NOT NULL, arxiv_id TEXT, title TEXT, title_folded TEXT,
    title_derived INTEGER, date TEXT, year INTEGER, category TEXT, category_lc TEXT, truncated INTEGER,
    haystack TEXT, notes TEXT, json TEXT NOT NULL);
CREATE TABLE paper_sources(source TEXT, ord INTEGER, PRIMARY KEY(source, ord)) WITHOUT ROWID;
CREATE TABLE provenance_files(file TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE names(
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, name_lc TEXT, folded TEXT, nwords INTEGER,
    surname TEXT, short TEXT, head TEXT, UNIQUE(kind, name));
CREATE TABLE name_papers(name_id INTEGER, ord INTEGER, PRIMARY KEY(name_id, ord)) WITHOUT ROWID;
CREATE TABLE comments(folded TEXT, nwords INTEGER, ord INTEGER);
CREATE VIRTUAL TABLE venue_notes USING fts5(notes, content='');
CREATE TABLE name_tokens(token TEXT PRIMARY KEY, n INTEGER, ids TEXT) WITHOUT ROWID;
CREATE TABLE vocabulary(word TEXT PRIMARY KEY, df INTEGER) WITHOUT ROWID;
CREATE TABLE title_words(word TEXT, ord INTEGER, PRIMARY KEY(word, ord)) WITHOUT ROWID;
CREATE TABLE title_keys(key TEXT, ord INTEGER, PRIMARY KEY(key, ord)) WITHOUT ROWID;
"""
# Built after the rows are in (faster than maintaining them row by row). The date, year and category indexes carry
# the paper id: "papers from 2019" at 100k papers is ~10k ids, read from the index alone (4 ms) rather than from
# the wide paper rows (39 ms). papers_ord_id is the same for ids by position (BM25 hits, name matches): 40 ids in
# 0.1 ms instead of 5 ms of row lookups at 100k (used with INDEXED BY: the planner prefers the rowid).
INDEXES = """
CREATE INDEX papers_id ON papers(paper_id);
CREATE INDEX papers_ord_id ON papers(ord, paper_id);
CREATE INDEX papers_arxiv ON papers(arxiv_id) WHERE arxiv_id IS NOT NULL;
CREATE INDEX papers_date ON papers(date, paper_id) WHERE date IS NOT NULL;
CREATE INDEX papers_year ON papers(year, paper_id) WHERE year IS NOT NULL;
CREATE INDEX papers_category ON papers(category_lc, paper_id) WHERE category_lc IS NOT NULL;
CREATE INDEX names_folded ON names(folded);
CREATE INDEX names_surname ON names(surname) WHERE surname IS NOT NULL;
CREATE INDEX names_short ON names(short) WHERE short IS NOT NULL;
CREATE INDEX names_head ON names(head) WHERE head IS NOT NULL;
CREATE INDEX comments_folded ON comments(folded);
CREATE TABLE title_df(word TEXT PRIMARY KEY, df INTEGER) WITHOUT ROWID;
INSERT INTO title_df SELECT word, count(*) FROM title_words GROUP BY word;
"""


# Contentless (the text is papers.haystack already) and without positions or lengths: the browse search asks which
# papers have tokens starting with each word, nothing more. 21 MB at 100k papers (59 MB with positions).
WORD_INDEX = """
CREATE VIRTUAL TABLE paper_words USING fts5(haystack, content='', columnsize=0, detail=none, tokenize='unicode61');
INSERT INTO paper_words(rowid, haystack) SELECT ord, haystack FROM papers;
INSERT INTO paper_words(paper_words) VALUES ('optimize');
"""


# The author filter's substring search (`--author zhou`): the names holding a text's trigrams, then tested with `instr`
# as before, so exactly the names a scan finds. External content (the names table holds the text), no positions.
NAME_INDEX = """
CREATE VIRTUAL TABLE name_grams USING fts5(name_lc, content='names', content_rowid='id', columnsize=0, detail=none,
                                           tokenize='trigram');
INSERT INTO name_grams(name_grams) VALUES ('rebuild');
"""


def write_word_index(conn: sqlite3.Connection) -> None:
    """The browse word index over the papers already written (also adds it to a catalog written without it)."""
    conn.executescript(WORD_INDEX)


def token_char(ch: str) -> bool:
    """What FTS5's unicode61 tokenizer keeps in a token by default: letters, digits, private-use characters."""
    category = unicodedata.category(ch)
    return category[0] in "LN" or category == "Co"


def word_terms(word: str) -> list[str]:
    """FTS5 terms whose AND every paper containing `word` from a token start matches, each a quoted run of token
    characters (never query syntax: quotes, `*`, parentheses are separators): a run followed in the word by a
    separator is a whole token, the run ending the word a token prefix. "in-context" -> '"in"', '"context"*';
    "o(n)" -> '"o"', '"n"'. `[]`: no token character, nothing the index can look up."""
    runs: list[str] = []
    current = ""
    for ch in word:
        if token_char(ch):
            current += ch
        elif current:
            runs.append(f'"{current}"')  # followed by a separator: the whole token
            current = ""
    if current:
        runs.append(f'"{current}"*')  # ends the word: the start of a token
    return runs


class CatalogSchemaError(ValueError):
    """A catalog file of another schema version."""


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


def ngrams(words: list[str], sizes: Iterable[int]) -> set[str]:
    """Every run of `size` consecutive words, for each size: what a name or title in the text can be."""
    out: set[str] = set()
    for size in sizes:
        for i in range(len(words) - size + 1):
            out.add(" ".join(words[i : i + size]))
    return out


def title_key(folded_title: str) -> str:
    return " ".join(folded_title.split()[:3])


def name_tokens(p: Paper) -> set[str]:
    """The coined names and capitalised words of a paper's title and abstract, lowercased."""
    # A cheap pass for words with a capital, then the exact test on those few (NAME_TOKEN is slow on prose).
    words = set(HAS_CAPITAL.findall(f"{p.title} {p.abstract}"))
    return {w.lower() for w in words if NAME_TOKEN.fullmatch(w) or CAPITALISED.fullmatch(w)}


def haystack(p: Paper) -> str:
    """What the browse word search looks in."""
    return fold(" ".join([p.title, p.abstract, *p.authors, p.arxiv_id or "", p.paper_id]))


class Digest:
    """Identity of a sequence of items (the first 16 hex digits of a sha256), fed one item at a time: an ingest
    takes it while the papers stream past, holding none of them."""

    def __init__(self, encode: Callable[[Any], bytes]):
        self._encode = encode
        self._h = hashlib.sha256()

    def add(self, item: Any) -> None:
        self._h.update(self._encode(item))

    def of(self, items: Iterable[Any]) -> str:
        for item in items:
            self.add(item)
        return self.hexdigest()

    def hexdigest(self) -> str:
        return self._h.hexdigest()[:16]


def paper_digester() -> Digest:
    """`paper_digest`, fed one paper at a time."""
    return Digest(lambda p: p.model_dump_json().encode() + b"\n")


def paper_digest(papers: Iterable[Paper]) -> str:
    """Identity of a catalog's content (every field of every paper, in order)."""
    return paper_digester().of(papers)


class _Writer:
    """Fills an empty database with papers, batch by batch; `finish` builds the indexes and aggregates."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.ord = 0
        self.meta: dict[str, Any] = {"name_lengths": set(), "comment_lengths": set(), "titled": 0, "dated": 0,
                                     "truncated": 0}  # fmt: skip
        conn.executescript(SCHEMA)

    def add(self, papers: list[Paper]) -> None:
        c = self.conn
        rows: list[tuple[Any, ...]] = []
        sources: set[tuple[str, int]] = set()
        files: set[str] = set()
        comments: list[tuple[str, int, int]] = []
        notes: list[tuple[int, str]] = []
        titles: list[tuple[str, int]] = []
        keys: list[tuple[str, int]] = []
        vocab: Counter[str] = Counter()  # word -> papers using it
        tokens: dict[str, list[str]] = {}
        names: dict[tuple[str, str], None] = {}
        links: list[tuple[str, str, int]] = []
        for p in papers:
            o = self.ord
            self.ord += 1
            tf = fold(p.title)
            rows.append((o, p.paper_id, p.arxiv_id, p.title, tf, int(p.title_derived), p.date, p.year, p.category,
                         p.category.lower() if p.category else None, int(p.authors_truncated), haystack(p),
                         "\n".join(p.venue_notes), p.model_dump_json()))  # fmt: skip
            self.meta["titled"] += not p.title_derived
            self.meta["dated"] += bool(p.date)
            self.meta["truncated"] += p.authors_truncated
            sources.update((s, o) for s in p.sources)
            files.update(s.file for s in p.provenance)
            for text in p.comments:
                if len(text) > 6 and (fc := fold(text)):
                    comments.append((fc, len(fc.split()), o))
                    self.meta["comment_lengths"].add(len(fc.split()))
            if p.venue_notes:
                notes.append((o, "\n".join(p.venue_notes)))
            for kind, values in (("author", p.authors), ("affiliation", p.affiliations)):
                for name in values:
                    names[(kind, name)] = None
                    links.append((kind, name, o))
            for tok in name_tokens(p):
                tokens.setdefault(tok, []).append(p.paper_id)
            vocab.update(set(WORD.findall(f"{p.title} {p.abstract}".lower())))
            if not p.title_derived:
                titles += [(w, o) for w in set(tf.split()) if len(w) > 2]
            if len(tf) >= (40 if p.title_derived else 12):  # a shorter title is no evidence of a quote
                keys.append((title_key(tf), o))
        c.executemany("INSERT INTO papers VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        c.executemany("INSERT OR IGNORE INTO paper_sources VALUES (?,?)", sorted(sources))
        c.executemany("INSERT OR IGNORE INTO provenance_files VALUES (?)", [(f,) for f in sorted(files)])
        c.executemany("INSERT INTO comments VALUES (?,?,?)", comments)
        c.executemany("INSERT INTO venue_notes(rowid, notes) VALUES (?,?)", notes)
        c.executemany(
            "INSERT INTO vocabulary VALUES (?,?) ON CONFLICT(word) DO UPDATE SET df = df + excluded.df",
            sorted(vocab.items()),
        )
        c.executemany("INSERT OR IGNORE INTO title_words VALUES (?,?)", titles)
        c.executemany("INSERT OR IGNORE INTO title_keys VALUES (?,?)", keys)
        c.executemany(
            "INSERT INTO name_tokens VALUES (?,?,?) ON CONFLICT(token) DO UPDATE SET n = n + excluded.n, "
            f"ids = CASE WHEN n >= {TOKEN_IDS_KEPT} THEN ids ELSE ids || ' ' || excluded.ids END",
            [(t, len(ids), " ".join(ids[:TOKEN_IDS_KEPT])) for t, ids in tokens.items()],
        )
        self._names(list(names), links)

    def _names(self, names: list[tuple[str, str]], links: list[tuple[str, str, int]]) -> None:
        rows = []
        for kind, name in names:
            words = fold(name).split()
            folded = " ".join(words)
            surname = words[-1] if kind == "author" and words and len(words[-1]) > 3 else None
            short = f"{words[0]} {words[-1]}" if kind == "author" and len(words) > 2 else None
            head = words[0] if kind == "affiliation" and len(words) > 1 and len(words[0]) >= 4 else None
            rows.append((kind, name, name.lower(), folded, len(words), surname, short, head))
            if len(folded) >= 4:
                self.meta["name_lengths"].add(len(words))
        # First seen, first numbered: names come back in catalog order, as a scan over the papers would give them.
        self.conn.executemany(
            "INSERT OR IGNORE INTO names(kind, name, name_lc, folded, nwords, surname, short, head) "
            "VALUES (?,?,?,?,?,?,?,?)",
            rows,
        )
        ids: dict[tuple[str, str], int] = {}
        for kind in ("author", "affiliation"):
            for part in _chunks(sorted({n for k, n in names if k == kind})):
                for i, name in self.conn.execute(
                    f"SELECT id, name FROM names WHERE kind = ? AND name IN ({_marks(len(part))})", [kind, *part]
                ):
                    ids[(kind, name)] = i
        self.conn.executemany("INSERT OR IGNORE INTO name_papers VALUES (?,?)", [(ids[(k, n)], o) for k, n, o in links])

    def finish(self) -> None:
        c = self.conn
        c.executescript(INDEXES)
        categories = [r[0] for r in c.execute("SELECT DISTINCT category FROM papers WHERE category IS NOT NULL "
                                              "ORDER BY category")]  # fmt: skip
        sources = [r[0] for r in c.execute("SELECT DISTINCT source FROM paper_sources ORDER BY source")]
        meta = {
            "schema": SCHEMA_VERSION,
            "categories": categories,  # a few values each: kept here so that no question scans for them
            "sources": sources,
            "papers": self.ord,
            "titled": self.meta["titled"],
            "dated": self.meta["dated"],
            "truncated": self.meta["truncated"],
            "name_lengths": sorted(self.meta["name_lengths"]),
            "comment_lengths": sorted(self.meta["comment_lengths"]),
        }
        c.executemany("INSERT INTO meta VALUES (?,?)", [(k, json.dumps(v)) for k, v in meta.items()])
        c.execute("CREATE TABLE columns(name TEXT PRIMARY KEY, data BLOB)")
        c.executemany("INSERT INTO columns VALUES (?,?)",
                      [(k, v.tobytes()) for k, v in date_columns(c.execute("SELECT ord, date, year FROM papers"),
                                                                 self.ord).items()])  # fmt: skip
        write_word_index(c)
        c.executescript(NAME_INDEX)
        c.execute("ANALYZE")
        c.commit()


ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def date_key(date: str | None) -> int:
    """An ISO date as one integer, YYYYMMDD, the parts it lacks as 00 ("2025-10" -> 20251000); -1 for none. The
    papers dated with a prefix ("2025", "2025-10") are then a range of keys."""
    m = ISO_DATE.match(date or "")
    return int(m[1]) * 10_000 + int(m[2] or 0) * 100 + int(m[3] or 0) if m else -1


def date_columns(rows: Iterable[tuple[int, str | None, int | None]], n: int) -> dict[str, np.ndarray]:
    """Every paper's date key and year by catalog position, from (ord, date, year) rows: what a date or year
    filter tests in one vectorised pass (a year of a million papers is ~100k positions; SQL returns them in ~30 ms).
    Stored in the catalog's `columns` table by `write_catalog`."""
    keys = np.full(n, -1, dtype=np.int32)
    years = np.zeros(n, dtype=np.int32)  # 0: none
    for o, d, y in rows:
        keys[o], years[o] = date_key(d), y or 0
    return {"date_key": keys, "year": years}


def write_catalog(path: Path, papers: Iterable[Paper], after_batch: Callable[[int], None] | None = None) -> int:
    """Write the catalog database to `path` atomically (a temp file, fsync'd, then renamed): a crash never
    leaves a half-written catalog under that name. `after_batch(papers written)` runs after each batch."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("PRAGMA journal_mode=OFF")  # the file is not in use until renamed: no journal needed
        conn.execute("PRAGMA synchronous=OFF")
        n = _fill(conn, papers, after_batch)
    except BaseException:  # the papers' source failed (nothing readable, a refused corpus): no leftover
        conn.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        conn.close()
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return n


def _fill(conn: sqlite3.Connection, papers: Iterable[Paper], after_batch: Callable[[int], None] | None) -> int:
    writer = _Writer(conn)
    batch: list[Paper] = []
    for p in papers:
        batch.append(p)
        if len(batch) >= BATCH:
            writer.add(batch)
            conn.commit()
            batch = []
            if after_batch:
                after_batch(writer.ord)
    if batch:
        writer.add(batch)
        conn.commit()
        if after_batch:
            after_batch(writer.ord)
    writer.finish()
    return writer.ord


class CatalogStore:
    """Read access to one catalog database; one SQLite connection per thread (the HTTP API is concurrent)."""

    def __init__(self, uri: str, keeper: sqlite3.Connection | None = None):
        self.uri = uri
        self._keeper = keeper  # keeps an in-memory database alive
        self._local = threading.local()
        meta = dict(self.conn().execute("SELECT key, value FROM meta").fetchall())
        self.meta: dict[str, Any] = {k: json.loads(v) for k, v in meta.items()}
        if self.meta.get("schema") != SCHEMA_VERSION:
            raise CatalogSchemaError(f"the catalog was written by another version of paperchat (schema "
                                     f"{self.meta.get('schema')}, not {SCHEMA_VERSION}): run `rag ingest`")  # fmt: skip

    @classmethod
    def open(cls, path: Path) -> CatalogStore:
        """Read-only, lock-free: the file is never written after it is renamed into place."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"no catalog at {path}")
        return cls(f"file:{quote(str(Path(path).resolve()))}?mode=ro&immutable=1")

    @classmethod
    def memory(cls, papers: Iterable[Paper]) -> CatalogStore:
        """The same schema in a private in-memory database (shared by this process's threads)."""
        uri = f"file:rag-catalog-{uuid.uuid4().hex}?mode=memory&cache=shared"
        keeper = sqlite3.connect(uri, uri=True, check_same_thread=False)
        _fill(keeper, papers, None)
        return cls(uri, keeper)

    def conn(self) -> sqlite3.Connection:
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.uri, uri=True, check_same_thread=False)
            if "mode=memory" in self.uri:
                c.execute("PRAGMA read_uncommitted=1")  # shared cache: readers never wait on each other
            self._local.conn = c
        return c

    def has_table(self, name: str) -> bool:
        """Does the catalog have this table? (The optional ones: `columns`, `paper_words`.)"""
        return bool(self.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.conn().execute(sql, params).fetchall()

    def rows_in(self, sql: str, values: Sequence[Any], before: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """`sql` with one `IN ({})` placeholder, run over `values` in chunks."""
        out: list[tuple[Any, ...]] = []
        for part in _chunks(list(values)):
            out += self.rows(sql.format(_marks(len(part))), [*before, *part])
        return out
