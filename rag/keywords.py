"""The BM25 keyword index of one generation, built at ingest and memory-mapped by every process that answers.

Documents are the papers in catalog order (document i = the paper at catalog position `ord` i), each the text
`paper_search_text` gives. Saved in the generation's `bm25/` folder: bm25s's own files (the score matrix as three
.npy arrays, memory-mapped on load) plus `terms.sqlite` (term -> column), so a process that answers loads neither
the vocabulary nor the matrix into memory: a query looks its few terms up and reads their columns.

Also saved: each document's term counts (COUNTS: memory-mapped .npy files) and a key of its text. bm25s has no
incremental add, so a changed corpus gets a new index at ingest (never at query time): `update` fills it from
the previous index's counts, tokenizing only the texts that previous index did not have (tokenizing is most of a
build); `build` tokenizes every text. A generation whose papers' search texts did not change reuses the previous
files (hard links).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sqlite3
import tempfile
import threading
from array import array
from collections.abc import Callable, Iterable
from itertools import islice
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

import bm25s
import numpy as np
import Stemmer
from bm25s.scoring import _build_idf_array, _select_idf_scorer

from rag.catalog_store import Digest
from rag.models import Paper
from rag.text import searchable

FOLDER = "bm25"
BUILD_BATCH = 5000  # texts tokenized together while an index is built
TERMS = "terms.sqlite"
INFO = "info.json"
# Per-document counts: document i's rows are doc_terms/doc_tf[doc_ptr[i]:doc_ptr[i + 1]] (term column, count);
# doc_keys[i] is `text_key` of its text.
COUNTS = ("doc_ptr.npy", "doc_terms.npy", "doc_tf.npy", "doc_keys.npy")
# Counts saved with another tokenizer (another stopword list or stemmer) are not what this one gives a text.
TOKENIZER = f"bm25s {bm25s.__version__}, PyStemmer {Stemmer.version()}, english"


def paper_search_text(p: Paper) -> str:
    """Everything keyword search should see for a paper."""
    parts = [p.title, p.title, ", ".join(p.authors), ", ".join(p.affiliations), p.arxiv_id or "",
             str(p.year or ""), p.category or "", " ".join(p.comments), p.abstract]  # fmt: skip
    return searchable(" \n".join(parts))


def search_digester() -> Digest:
    """`search_digest`, fed one paper at a time."""
    return Digest(lambda p: paper_search_text(p).encode() + b"\x00")


def search_digest(papers: Iterable[Paper]) -> str:
    """Identity of the keyword index's input: every paper's search text, in catalog order."""
    return search_digester().of(papers)


def text_key(text: str) -> bytes:
    """A document's key in the saved counts: 16 bytes of a hash of its text (the same key, the same tokens)."""
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


class SearchTexts:
    """What an ingest takes of the papers' search texts as the papers stream past (none is kept): the digest of
    them all (`search_digest`) and each one's `text_key`, in catalog order (16 bytes a paper)."""

    def __init__(self) -> None:
        self._digest = Digest(lambda text: text.encode() + b"\x00")
        self._keys = bytearray()

    def add(self, p: Paper) -> None:
        text = paper_search_text(p)
        self._digest.add(text)
        self._keys += text_key(text)

    def hexdigest(self) -> str:
        return self._digest.hexdigest()

    def keys(self) -> np.ndarray:
        return np.frombuffer(bytes(self._keys), dtype="S16")


class Tokenizer:
    """bm25s tokenization with English stopwords and the Snowball stemmer: one for indexing and querying."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()  # PyStemmer objects are not thread-safe

    def __call__(self, texts: list[str]) -> list[list[str]]:
        with self._lock:
            out: list[list[str]] = bm25s.tokenize(
                texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False
            )
        return out


class KeywordIndex:
    """BM25 scores over the papers, and the document frequencies keyword trust is measured with."""

    def __init__(
        self,
        bm25: bm25s.BM25 | None,
        n_docs: int,
        terms: dict[str, int] | str,
        columns: int = 0,
        counts: Path | None = None,
    ):
        self._bm25 = bm25
        self.n_docs = n_docs
        self._terms = terms  # term -> column: a dict (built in memory) or the URI of terms.sqlite
        self._columns = columns  # of the score matrix, built in memory (terms.sqlite also holds the empty token)
        self._counts = counts  # the folder of per-document counts a build wrote, until `save` moves them
        self._local = threading.local()
        self.max_idf = math.log(1 + (n_docs + 0.5) / 0.5)

    # -- build and store --------------------------------------------------------------------------
    @classmethod
    def build(
        cls, texts: Iterable[str], tokenize: Tokenizer, batch: int = BUILD_BATCH, counts: Path | None = None
    ) -> KeywordIndex:
        """bm25s's index of the texts (its default BM25, the same scores its `index` gives), built in bounded
        memory: the texts are tokenized a batch at a time into (document, term, count) rows spilled to a temporary
        file, then the score matrix is filled in place, column by column, from the spill. Held at once: the
        matrix itself (8 bytes a distinct term of a document), the vocabulary, one batch; never every document's
        tokens (bm25s's own `index` holds them as Python lists: gigabytes at a million papers). `counts`: a
        folder (created) the per-document term counts are written to, which `save` moves into the index and
        `update` starts the next index from."""
        vocab: dict[str, int] = {}
        with _Rows() as rows:
            rest = iter(texts)
            while part := list(islice(rest, batch)):
                doc, term, tf = _count(tokenize(part), vocab)
                rows.add(doc + len(rows.lengths), term, tf, len(part), len(vocab), b"".join(map(text_key, part)))
            return cls._finish(rows, vocab, counts)

    @classmethod
    def update(
        cls,
        prev: Path,
        keys: np.ndarray,
        texts_at: Callable[[list[int]], list[str]],
        tokenize: Tokenizer,
        batch: int = BUILD_BATCH,
        counts: Path | None = None,
    ) -> tuple[KeywordIndex, int]:
        """The index `build` gives the new corpus, from the counts saved with the previous index (`prev`, which
        `updatable`): document i, whose text has key `keys[i]` (`text_key`), takes its term counts from the
        previous document with that key, and only the texts no previous document had are read (`texts_at`:
        the texts at these document numbers) and tokenized. The score matrix is then filled from the counts as
        `build` fills it (idf and average length over the new corpus); terms no document uses any more leave the
        vocabulary. Returns the index and how many texts were tokenized."""
        old = _Saved(prev)
        vocab = old.vocabulary()  # previous term ids are kept; new terms get the next ones; `_finish` compacts
        found = old.find(keys)
        tokenized = 0
        with _Rows() as rows:
            for start in range(0, len(keys), batch):
                near = found[start : start + batch]
                have, need = np.flatnonzero(near >= 0), np.flatnonzero(near < 0)
                # The kept documents' rows, read from the previous counts in one gather.
                first, n = old.ptr[near[have]], old.ptr[near[have] + 1] - old.ptr[near[have]]
                at = np.arange(int(n.sum())) + np.repeat(first - (np.cumsum(n) - n), n)
                doc, term, tf = [np.repeat(have, n)], [old.terms[at].astype(np.int64)], [old.tf[at].astype(np.int64)]
                if need.size:
                    texts = texts_at((need + start).tolist())
                    if len(texts) != need.size:
                        raise ValueError(f"asked for {need.size} texts, got {len(texts)}")
                    d, t, f = _count(tokenize(texts), vocab)
                    doc.append(need[d])
                    term.append(t)
                    tf.append(f)
                    tokenized += len(texts)
                docs = np.concatenate(doc)
                order = np.argsort(docs, kind="stable")  # document order; each document's rows stay together
                rows.add(docs[order] + start, np.concatenate(term)[order], np.concatenate(tf)[order], len(near),
                         len(vocab), keys[start : start + batch].tobytes())  # fmt: skip
            return cls._finish(rows, vocab, counts), tokenized

    @classmethod
    def _finish(cls, rows: _Rows, vocab: dict[str, int], counts: Path | None) -> KeywordIndex:
        """The index of the spilled rows: vocabulary compacted to the terms some document uses, score matrix
        filled, per-document counts written to `counts`."""
        n_docs = len(rows.lengths)
        df = np.pad(rows.df, (0, len(vocab) - len(rows.df)))
        column: np.ndarray | None = None
        if not df.all():  # an update: terms of removed or changed documents only; `term_ids` must not find them
            used = df > 0
            column = (np.cumsum(used) - 1).astype(np.int32)
            cols, keep = column.tolist(), used.tolist()
            vocab = {t: cols[i] for t, i in vocab.items() if keep[i]}
            df = df[used]
        writer = _CountsWriter(counts, rows) if counts is not None else None
        if not n_docs:  # bm25s cannot index nothing; an empty catalog simply has no keyword matches
            if writer is not None:
                writer.close()
            return cls(None, 0, {}, counts=counts)
        bm25 = bm25s.BM25()
        # What bm25s's build_index_from_ids computes, in its order of operations and types: float64 per row,
        # stored as float32.
        doc_len = np.frombuffer(rows.lengths, dtype=np.int64)
        avg_doc_len = doc_len.mean()
        idf = _build_idf_array(dict(enumerate(df.tolist())), n_docs, _select_idf_scorer(bm25.idf_method))
        indptr = np.zeros(len(df) + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        indices = np.empty(int(indptr[-1]), dtype=np.int32)
        free = indptr[:-1].copy()  # next free slot of each column
        rows.spill.seek(0)
        for size in rows.sizes:
            doc, term, tf32 = np.frombuffer(rows.spill.read(12 * size), dtype=np.int32).reshape(3, size)
            if column is not None:
                term = column[term]
            if writer is not None:
                writer.add(term, tf32)
            tf = tf32.astype(np.float32).astype(np.float64)
            norm = bm25.k1 * ((1 - bm25.b) + bm25.b * doc_len[doc] / avg_doc_len)
            scores = (idf[term].astype(np.float64) * (tf / (norm + tf))).astype(np.float32)
            # Into each term's column, documents ascending (batches come in document order).
            order = np.argsort(term, kind="stable")
            term, doc, scores = term[order], doc[order], scores[order]
            filled, first, n = np.unique(term, return_index=True, return_counts=True)
            at = free[term] + (np.arange(size) - np.repeat(first, n))
            data[at], indices[at] = scores, doc
            free[filled] += n
        if writer is not None:
            writer.close()
        bm25.scores = {"data": data, "indices": indices, "indptr": indptr, "num_docs": n_docs}
        bm25.nonoccurrence_array = None
        if "" not in vocab:  # bm25s's `create_empty_token`: a term no document uses, past the last column
            vocab[""] = len(df)
        bm25.vocab_dict = vocab
        return cls(bm25, n_docs, dict(vocab), columns=len(df), counts=counts)

    def save(self, folder: Path, digest: str) -> None:
        """Write the index into `folder` (created; must not exist yet), with the counts it was built with."""
        folder.mkdir(parents=True)
        assert isinstance(self._terms, dict)
        if self._bm25 is not None:
            self._bm25.save(str(folder))
        db = sqlite3.connect(folder / TERMS)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("CREATE TABLE terms(term TEXT PRIMARY KEY, id INTEGER) WITHOUT ROWID")
        db.executemany("INSERT INTO terms VALUES (?,?)", sorted(self._terms.items()))
        db.commit()
        db.close()
        info: dict[str, object] = {"docs": self.n_docs, "digest": digest}
        if self._counts is not None:
            for name in COUNTS:
                os.replace(self._counts / name, folder / name)
            self._counts.rmdir()
            self._counts = None
            info.update(columns=self._columns, tokenizer=TOKENIZER)  # what `updatable` checks
        (folder / INFO).write_text(json.dumps(info))
        for f in folder.iterdir():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())

    @staticmethod
    def digest_of(folder: Path) -> str | None:
        try:
            return str(json.loads((folder / INFO).read_text())["digest"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def updatable(folder: Path) -> bool:
        """Whether `update` can start from this saved index: it has its counts, from this tokenizer."""
        try:
            info = json.loads((folder / INFO).read_text())
        except (OSError, ValueError):
            return False
        return (
            isinstance(info, dict)
            and info.get("tokenizer") == TOKENIZER
            and isinstance(info.get("columns"), int)
            and all((folder / name).is_file() for name in COUNTS)
        )

    @staticmethod
    def reuse(old: Path, new: Path) -> None:
        """The previous generation's files for an unchanged corpus: hard links (copies across filesystems)."""
        new.mkdir(parents=True)
        for f in old.iterdir():
            try:
                os.link(f, new / f.name)
            except OSError:
                shutil.copy2(f, new / f.name)

    @classmethod
    def open(cls, folder: Path) -> KeywordIndex:
        """Memory-map a saved index: no O(N) work, whatever the corpus size."""
        n_docs = int(json.loads((folder / INFO).read_text())["docs"])
        bm25 = bm25s.BM25.load(str(folder), mmap=True, load_vocab=False) if n_docs else None
        return cls(bm25, n_docs, f"file:{quote(str((folder / TERMS).resolve()))}?mode=ro&immutable=1")

    # -- query ----------------------------------------------------------------------------------
    def term_ids(self, terms: Iterable[str]) -> dict[str, int]:
        """Column of each term the corpus uses (terms it does not use are left out)."""
        wanted = sorted(set(terms))
        if isinstance(self._terms, dict):
            return {t: self._terms[t] for t in wanted if t in self._terms}
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._terms, uri=True, check_same_thread=False)
            self._local.conn = conn
        if not wanted:
            return {}
        rows = conn.execute(f"SELECT term, id FROM terms WHERE term IN ({','.join('?' * len(wanted))})", wanted)
        return dict(rows.fetchall())

    def df(self, term_id: int) -> int:
        """The term's document frequency: its column's length in the score matrix."""
        assert self._bm25 is not None
        indptr = self._bm25.scores["indptr"]
        return int(indptr[term_id + 1] - indptr[term_id])

    def idf(self, term_id: int) -> float:
        """BM25 (Lucene) idf from the term's document frequency."""
        df = self.df(term_id)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))

    def top(self, ids: list[int], k: int, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, scores) of the k best documents for these term columns, best first; only
        documents that score (hold a query term and are not masked out)."""
        scores = self._scores([int(i) for i in ids])
        if mask is not None:
            scores *= mask
        # Only documents holding a query term can rank: selecting among them, not all N, also avoids numpy's
        # partition on a mostly-zero array (14 ms at 100k documents, measured, against ~1 ms).
        hit = np.flatnonzero(scores > 0)
        if k <= 0:
            hit = hit[:0]
        elif len(hit) > k:  # the k best; a tie at the cut is broken by document order, as a full sort would
            neg = -scores[hit]
            cut = np.partition(neg, k - 1)[k - 1]
            better = hit[neg < cut]
            hit = np.concatenate([better, hit[neg == cut][: k - len(better)]])
        docs = hit[np.lexsort((hit, -scores[hit]))]  # best first; ties in document order
        return docs, scores[docs]

    def _scores(self, ids: list[int]) -> np.ndarray:
        """Every document's BM25 score for these term columns: bm25s's own sum, done with one bincount instead
        of np.add.at (14 ms for a term in half of 100k documents, ~1 ms this way)."""
        assert self._bm25 is not None
        if getattr(self._bm25, "nonoccurrence_array", None) is not None:  # BM25L/BM25+ add a constant: bm25s's way
            return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)
        matrix = self._bm25.scores
        indptr, indices, data = matrix["indptr"], matrix["indices"], matrix["data"]
        spans = [(int(indptr[i]), int(indptr[i + 1])) for i in ids]
        if not spans:
            return np.zeros(self.n_docs, dtype=np.float32)
        docs = np.concatenate([indices[a:b] for a, b in spans])
        weights = np.concatenate([data[a:b] for a, b in spans])
        return np.bincount(docs, weights=weights, minlength=self.n_docs).astype(np.float32)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            if (conn := getattr(self._local, "conn", None)) is not None:
                conn.close()


def _count(docs: list[list[str]], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(document, term, count) rows of tokenized documents, sorted by document (0 = the first of `docs`) then
    term; new terms join `vocab`."""
    tokens = np.fromiter((vocab.setdefault(t, len(vocab)) for d in docs for t in d), dtype=np.int64)
    lengths = np.array([len(d) for d in docs], dtype=np.int64)
    n_vocab = max(len(vocab), 1)
    codes, tf = np.unique(np.repeat(np.arange(len(docs)), lengths) * n_vocab + tokens, return_counts=True)
    return codes // n_vocab, codes % n_vocab, tf


class _Rows:
    """(document, term, count) rows of every document, spilled to a temporary file a batch at a time (documents
    in order), and what the score matrix and the counts files need of them: each term's document frequency,
    each document's length, rows and key."""

    def __init__(self) -> None:
        self.spill = tempfile.TemporaryFile()
        self.sizes: list[int] = []  # rows spilled per batch
        self.df = np.zeros(0, dtype=np.int64)  # documents using each term
        self.lengths = array("q")  # tokens of each document
        self.per_doc = array("q")  # rows (distinct terms) of each document
        self.keys = bytearray()

    def add(self, doc: np.ndarray, term: np.ndarray, tf: np.ndarray, n_docs: int, n_vocab: int, keys: bytes) -> None:
        """The rows of the next `n_docs` documents (numbered from the first not added yet), sorted by document."""
        rows = np.empty((3, len(doc)), dtype=np.int32)
        rows[0], rows[1], rows[2] = doc, term, tf
        self.spill.write(rows.tobytes())
        self.sizes.append(len(doc))
        self.df = np.pad(self.df, (0, n_vocab - len(self.df))) + np.bincount(rows[1], minlength=n_vocab)
        local = rows[0] - len(self.lengths)
        # float64 sums of int32 counts are exact
        self.lengths.extend(np.bincount(local, weights=rows[2], minlength=n_docs).astype(np.int64).tolist())
        self.per_doc.extend(np.bincount(local, minlength=n_docs).tolist())
        self.keys += keys

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.spill.close()


class _CountsWriter:
    """The COUNTS files of spilled rows, the (term, count) columns streamed in batch by batch."""

    def __init__(self, folder: Path, rows: _Rows):
        folder.mkdir(parents=True)
        ptr = np.zeros(len(rows.per_doc) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(rows.per_doc, dtype=np.int64), out=ptr[1:])
        np.save(folder / "doc_ptr.npy", ptr)
        np.save(folder / "doc_keys.npy", np.frombuffer(bytes(rows.keys), dtype="S16"))
        self._files = [open(folder / name, "wb") for name in ("doc_terms.npy", "doc_tf.npy")]
        for f in self._files:
            header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.int32)), "fortran_order": False,
                      "shape": (int(ptr[-1]),)}  # fmt: skip
            np.lib.format.write_array_header_1_0(f, header)

    def add(self, term: np.ndarray, tf: np.ndarray) -> None:
        self._files[0].write(term.astype(np.int32).tobytes())
        self._files[1].write(tf.astype(np.int32).tobytes())

    def close(self) -> None:
        for f in self._files:
            f.close()


class _Saved:
    """The counts saved with an index (memory-mapped) and its vocabulary, which `KeywordIndex.update` starts from."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ptr, self.terms, self.tf, self.keys = (np.load(folder / name, mmap_mode="r") for name in COUNTS)
        info = json.loads((folder / INFO).read_text())
        self.columns = int(info["columns"])
        # A copy that stopped short must not pass for counts: the shapes are checked, not the values (O(rows)).
        if not (len(self.ptr) == len(self.keys) + 1 == int(info["docs"]) + 1 and len(self.terms) == len(self.tf)
                and int(self.ptr[-1]) == len(self.terms) and self.keys.dtype == np.dtype("S16")):  # fmt: skip
            raise ValueError(f"the BM25 counts in {folder} do not match its index")

    def vocabulary(self) -> dict[str, int]:
        """term -> column of the terms some document uses (not bm25s's empty token, past the last column)."""
        db = sqlite3.connect(f"file:{quote(str((self.folder / TERMS).resolve()))}?mode=ro", uri=True)
        try:
            return {t: i for t, i in db.execute("SELECT term, id FROM terms") if i < self.columns}
        finally:
            db.close()

    def find(self, keys: np.ndarray) -> np.ndarray:
        """For each key, a saved document with that key (its text), else -1."""
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        order = np.argsort(self.keys, kind="stable")
        known = np.asarray(self.keys)[order]
        at = np.minimum(np.searchsorted(known, keys), len(known) - 1)
        return np.where(known[at] == keys, order[at], -1).astype(np.int64)
