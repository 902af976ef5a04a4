"""Index stage: catalog -> tiktoken chunks -> embeddings -> Chroma, incrementally and crash-safely.

What one ingest stores, as one *generation* (data_dir/generations/<name>/):
- chunk vectors (Chroma collection `<prefix>_<key>_<gen>_c`): the abstract in ~160-token chunks, each
  embedded with its paper's title and authors, for dense retrieval;
- paper vectors (Chroma collection `<prefix>_<key>_<gen>_p`): one title + abstract vector per paper;
- sentence vectors (sentences.npy, sentences.texts, sentences.json): every abstract sentence an extractive answer
  may quote, so answering never embeds corpus text;
- the paper model's vectors, when it is on (`PaperModelVectors`: paper_model.npy, paper_model_sentences.npy,
  paper_model.json): each paper's title + abstract and each of those sentences again, by all-mpnet-base-v2;
- catalog.sqlite (rag/catalog_store.py: the papers and their lookups), bm25/ (the keyword index, rag/keywords.py)
  and index.json (identity, collections, per-paper content hashes, counts).

`current.json` names the generation that answers; it is switched with one atomic `os.replace` once the new
generation is complete. Nothing an answering generation uses is written in place, so a SIGKILL at any point
leaves the previous index answering exactly as before. Unchanged papers are copied from the previous
generation (their vectors are not recomputed). One ingest at a time holds an exclusive lock on the data dir.

llama-index does the chunking (SentenceSplitter with the cl100k_base tokenizer); it is imported only on the
ingest path so a process that only answers questions stays light.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.arrays import RowWriter, StringTable, read_at_random, release
from rag.catalog import Catalog, CatalogReport, iter_catalog
from rag.catalog_store import SCHEMA_VERSION, CatalogSchemaError, paper_digester, write_catalog
from rag.errors import UserError
from rag.keywords import FOLDER as KEYWORDS
from rag.keywords import KeywordIndex, SearchTexts, Tokenizer, paper_search_text
from rag.models import Paper
from rag.resume import VectorJournal, text_key
from rag.settings import Settings
from rag.text import searchable, sentences
from rag.vectors import DENSE_FOLDER, RELEASE_EVERY, DenseWriter, VectorCache, chroma_pages

if TYPE_CHECKING:
    from llama_index.core import Document

    from rag.embed import Embedder

# The sentences an extractive answer may quote (rag/answer.py uses the same bounds).
SENTENCE_MIN_CHARS, SENTENCE_MAX_CHARS = 30, 600
# Chunks keep at least this many tokens of abstract: longer metadata (40 authors) is trimmed to fit.
MIN_CHUNK_CONTENT_TOKENS = 50
POINTER = "current.json"
CATALOG = "catalog.sqlite"
STAGED = "catalog.staged.sqlite"  # the next generation's catalog, in the data dir until that generation exists
GENERATIONS = "generations"
LOCK = "ingest.lock"


class IndexStateError(UserError):
    """The index is missing, unfinished or was built with other settings; the message says what to run."""


class IngestLockedError(UserError):
    """Another ingest holds the data dir."""


def checkpoint(stage: str) -> None:
    """Test hook: RAG_TEST_KILL_AT=<stage> kills this process at that stage (crash-safety tests)."""
    if os.environ.get("RAG_TEST_KILL_AT") == stage:
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class IngestReport:
    papers: int = 0
    copies: int = 0
    merged: int = 0
    problems: int = 0
    skipped: int = 0
    chunks_embedded: int = 0
    papers_embedded: int = 0
    sentences_embedded: int = 0
    vectors_resumed: int = 0  # taken from an interrupted ingest's journal instead of embedded again
    papers_updated: int = 0
    papers_removed: int = 0
    rebuilt: bool = False
    unchanged: bool = False
    generation: str = ""
    seconds: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # parse / chunk / embed / store, seconds
    keywords: str = ""  # how the BM25 index was made (reused, updated or built) and in how long
    catalog_lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # records skipped or trimmed, by paper

    def summary(self) -> str:
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return (
            f"{self.papers} papers ({self.copies} copies read, {self.merged} merged away, {self.problems} notes"
            f"{skipped}); {self.papers_updated} added/updated, {self.papers_removed} removed, "
            f"{self.chunks_embedded} chunks embedded in {self.seconds:.1f} s"
            + (" (index rebuilt for new settings)" if self.rebuilt else "")
            + (" (already up to date)" if self.unchanged else "")
            + (f" ({self.vectors_resumed} vectors resumed from an interrupted ingest)" if self.vectors_resumed else "")
        )

    def stage_line(self) -> str:
        split = ", ".join(f"{k} {v:.2f} s" for k, v in self.stages.items())
        return (
            f"stages: {split}; embedded {self.chunks_embedded} chunks + {self.papers_embedded} papers + "
            f"{self.sentences_embedded} sentences" + (f"; bm25 {self.keywords}" if self.keywords else "")
        )


# -- one ingest at a time ----------------------------------------------------------------------------
class DataDirLock:
    """Exclusive flock on data_dir/ingest.lock, holding the owner's pid. The kernel drops it when the
    process dies, so a killed ingest never leaves a stale lock."""

    def __init__(self, data_dir: Path, timeout_s: float):
        self.path = data_dir / LOCK
        self.timeout_s = timeout_s
        self._fd: int | None = None

    def __enter__(self) -> DataDirLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise IndexStateError(f"cannot write to the data dir {self.path.parent}: {exc.strerror}") from exc
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise IngestLockedError(
                        f"another `rag ingest` (pid {holder}) is updating {self.path.parent}; waited "
                        f"{self.timeout_s:g} s. Let it finish (or stop it) and run `rag ingest` again."
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None


# -- generations ---------------------------------------------------------------------------------------
def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class Generation:
    """One complete index state: a folder plus the Chroma collections its index.json names."""

    name: str
    dir: Path
    meta: dict[str, Any]

    @property
    def catalog_path(self) -> Path:
        """catalog.sqlite (rag/catalog_store.py); a generation of an older version holds catalog.json instead."""
        legacy = self.dir / "catalog.json"
        return legacy if legacy.is_file() and not (self.dir / CATALOG).is_file() else self.dir / CATALOG

    @property
    def keywords_dir(self) -> Path:
        return self.dir / KEYWORDS

    @property
    def hashes(self) -> dict[str, str]:
        return dict(self.meta.get("hashes", {}))


class Generations:
    """The generation folders of a data dir and the `current.json` pointer that picks one."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.root = data_dir / GENERATIONS
        self.pointer = data_dir / POINTER

    def stamp(self) -> tuple[int, int] | None:
        """Cheap change detector for the pointer: (inode, mtime ns); os.replace gives a new inode."""
        try:
            st = self.pointer.stat()
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def current_name(self) -> str | None:
        try:
            name = json.loads(self.pointer.read_text())["generation"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return str(name)

    def load(self, name: str) -> Generation | None:
        folder = self.root / name
        try:
            meta = json.loads((folder / "index.json").read_text())
        except (OSError, ValueError):
            return None
        return Generation(name, folder, meta)

    def current(self) -> Generation | None:
        name = self.current_name()
        return self.load(name) if name else None

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())

    def new(self) -> Generation:
        """A fresh, empty generation folder; its name is unique across data dirs sharing a Chroma server."""
        numbers = [int(m.group(1)) for n in self.names() if (m := re.match(r"g(\d+)-", n))]
        name = f"g{max(numbers, default=0) + 1:06d}-{secrets.token_hex(3)}"
        folder = self.root / name
        folder.mkdir(parents=True)
        return Generation(name, folder, {})

    def switch(self, gen: Generation) -> None:
        """The one step that makes a new generation answer: an atomic replace of the pointer."""
        _fsync_dir(gen.dir)
        _write_atomic(self.pointer, json.dumps({"generation": gen.name}).encode())
        _fsync_dir(self.data_dir)

    def unfinished(self) -> bool:
        """Generation folders exist but none is current: an ingest was killed before its first switch."""
        return self.current_name() is None and bool(self.names())


def paper_hash(paper: Paper) -> str:
    """Everything that goes into a paper's stored vectors and chunk metadata; unchanged hash = copy, not re-embed."""
    blob = json.dumps(
        [paper.title, paper.abstract, paper.authors_display, paper.year, paper.category], ensure_ascii=False
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def paper_text(paper: Paper) -> str:
    """What a paper vector embeds: title and abstract (MiniLM reads the first 256 word pieces)."""
    return f"{searchable(paper.title)}\n\n{searchable(paper.abstract)}"


def answer_sentences(abstract: str) -> list[str]:
    """The abstract sentences an extractive answer may quote, as rag/answer.py selects them."""
    return [s for s in sentences(abstract) if SENTENCE_MIN_CHARS <= len(s) <= SENTENCE_MAX_CHARS]


def paper_document(
    paper: Paper, max_metadata_tokens: int | None = None, encoding_name: str = "cl100k_base"
) -> Document:
    """What gets chunked and embedded for one paper: title and key metadata ride along with each chunk.

    With `max_metadata_tokens`, metadata longer than that (40 authors, a very long title) is trimmed so
    every chunk still holds abstract text; a trimmed document carries `trimmed=True` in its metadata.
    """
    from llama_index.core import Document
    from llama_index.core.schema import MetadataMode

    def build(title: str, authors: str) -> Document:
        metadata: dict[str, Any] = {
            "paper_id": paper.paper_id,
            "title": title,
            "authors": authors,
            "year": paper.year or 0,
            "category": paper.category or "",
        }
        return Document(
            id_=paper.paper_id,
            text=searchable(paper.abstract),
            metadata=metadata,
            excluded_embed_metadata_keys=["paper_id", "year", "category"] + ([] if paper.authors else ["authors"]),
            excluded_llm_metadata_keys=["paper_id"],
            metadata_template="{key}: {value}",
            text_template="{metadata_str}\n\n{content}",
        )

    title, authors = searchable(paper.title), paper.authors_display
    doc = build(title, authors)
    if max_metadata_tokens is None:
        return doc
    from rag.tokens import count_tokens, truncate_tokens

    def size(d: Document) -> int:
        return max(count_tokens(d.get_metadata_str(m), encoding_name) for m in (MetadataMode.EMBED, MetadataMode.LLM))

    if size(doc) <= max_metadata_tokens:
        return doc
    # Authors first (keep the first ones, "et al."), then the title, cut at a token boundary.
    names = list(paper.authors)
    while len(names) > 1 and size(doc) > max_metadata_tokens:
        names = names[: max(1, len(names) // 2)]
        doc = build(title, ", ".join(names) + " et al.")
    if size(doc) > max_metadata_tokens:
        budget = max(8, max_metadata_tokens - (size(doc) - count_tokens(title, encoding_name)))
        doc = build(truncate_tokens(title, budget, encoding_name) + "…", doc.metadata["authors"])
    if size(doc) > max_metadata_tokens:  # one giant author name
        doc = build(doc.metadata["title"], truncate_tokens(doc.metadata["authors"], 16, encoding_name) + "…")
    doc.metadata["trimmed"] = True
    doc.excluded_embed_metadata_keys.append("trimmed")
    doc.excluded_llm_metadata_keys.append("trimmed")
    return doc


# -- sentence vectors ------------------------------------------------------------------------------------
class SentenceStore:
    """Sentence vectors of one generation: sentences.npy (float32 rows, L2-normalised, memory-mapped),
    sentences.texts (the sentence texts in row order, a `StringTable`: one read when quoted) and sentences.json
    (each paper's row range). A generation of an older version holds the texts as a list in sentences.json."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._rows: np.ndarray | None = None
        self._texts: Sequence[str] = []
        self._ranges: dict[str, tuple[int, int]] = {}
        self._dim = 0
        self._reads = 0

    @staticmethod
    def writer(folder: Path) -> SentenceWriter:
        """An incremental writer of this store's files (an ingest adds papers batch by batch)."""
        return SentenceWriter(folder)

    def _load(self) -> None:
        if self._rows is None:
            data = json.loads((self.folder / "sentences.json").read_text(encoding="utf-8"))
            texts = data["texts"]
            self._texts = StringTable.open(self.folder / texts).read_at_random() if isinstance(texts, str) else texts
            self._ranges = {k: (int(v[0]), int(v[1])) for k, v in data["ranges"].items()}
            self._dim = int(data["dim"])
            rows = read_at_random(np.load(self.folder / "sentences.npy", mmap_mode="r"))
            self._rows = rows if rows.size else np.zeros((0, self._dim), dtype=np.float32)

    def get(self, paper_ids: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
        self._load()
        assert self._rows is not None
        # Each question reads a few papers' rows of a file that is ~10 GB at 1M papers; what it read stays counted
        # in this process's memory until released (every RELEASE_EVERY questions, as chunk rows are).
        self._reads += 1
        if self._reads % RELEASE_EVERY == 0:
            release(self._rows)
            if isinstance(self._texts, StringTable):
                self._texts.release()
        out = {}
        for pid in paper_ids:
            if (r := self._ranges.get(pid)) is not None:
                out[pid] = ([self._texts[i] for i in range(*r)], np.array(self._rows[r[0] : r[1]], dtype=np.float32))
        return out

    def copy(self, paper_ids: list[str], out: SentenceWriter) -> None:
        """These papers' sentences into `out`, in this order, read from the files paper by paper rather than through
        their memory maps: a re-ingest copies nearly every paper, and what it read through a map would stay
        resident (sentences.npy alone is ~10 GB at a million papers)."""
        self._load()
        texts = self._texts
        table = texts if isinstance(texts, StringTable) and texts.path is not None else None
        with open(self.folder / "sentences.npy", "rb") as f:
            fmt = np.lib.format
            (fmt.read_array_header_1_0 if fmt.read_magic(f) == (1, 0) else fmt.read_array_header_2_0)(f)
            start, width = f.tell(), 4 * self._dim  # where the float32 rows start, bytes a row
            blob = os.open(table.path, os.O_RDONLY) if table is not None and table.path else -1
            try:
                for pid in paper_ids:
                    a, b = self._ranges.get(pid, (0, 0))
                    vecs = np.frombuffer(os.pread(f.fileno(), (b - a) * width, start + a * width), dtype=np.float32)
                    got = table.read(blob, a, b) if table is not None else [texts[i] for i in range(a, b)]
                    out.add(pid, got, vecs.reshape(b - a, self._dim))
            finally:
                if blob >= 0:
                    os.close(blob)


class SentenceWriter:
    """Writes sentences.npy, sentences.texts and sentences.json one paper at a time, holding neither all rows nor
    all texts: rows go straight into the .npy (rag/arrays.RowWriter), texts into a spill file of JSON lines that
    `close` turns into the text table; sentences.json (the ranges) is written last, under a temp name renamed."""

    TEXTS = "sentences.texts"

    def __init__(self, folder: Path):
        self.folder = folder
        self.rows = 0
        self._ranges: dict[str, tuple[int, int]] = {}
        self._npy: RowWriter | None = None
        self._spill = folder / "sentences.texts.tmp"
        self._texts = open(self._spill, "w", encoding="utf-8")  # appended to until close()

    def add(self, paper_id: str, texts: list[str], vectors: np.ndarray) -> None:
        self._ranges[paper_id] = (self.rows, self.rows + len(texts))
        if not texts:
            return
        if self._npy is None:
            self._npy = RowWriter(self.folder / "sentences.npy.tmp", int(np.shape(vectors)[-1]))
        self._npy.add(vectors)
        self._texts.writelines(json.dumps(t, ensure_ascii=False) + "\n" for t in texts)
        self.rows += len(texts)

    def close(self, dim: int) -> int:
        """Returns the number of rows written; `dim` names the width when no paper had a sentence."""
        if self._npy is None:
            self._npy = RowWriter(self.folder / "sentences.npy.tmp", dim)
        dim = self._npy.dim
        self._npy.close()
        os.replace(self._npy.path, self.folder / "sentences.npy")
        self._texts.close()
        with open(self._spill, encoding="utf-8") as spilled:
            StringTable.write(self.folder / self.TEXTS, (json.loads(line) for line in spilled))
        self._spill.unlink()
        tmp = self.folder / "sentences.json.tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            ranges = {pid: list(r) for pid, r in self._ranges.items()}
            json.dump({"dim": dim, "ranges": ranges, "texts": self.TEXTS}, out, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.folder / "sentences.json")
        return self.rows


# -- the index -------------------------------------------------------------------------------------------
@dataclass
class _Chunk:
    chunk_id: str
    paper_id: str
    embed_text: str  # chunk with title/authors, what gets embedded
    document: str  # chunk text alone, what gets quoted
    metadata: dict[str, Any]


class Index:
    """The stored index of a data dir: query API over the current generation, and ingest."""

    def __init__(self, settings: Settings, embedder: Embedder, paper_embedder: Embedder | None = None):
        self.settings = settings
        self.embedder = embedder
        self.paper_embedder = paper_embedder  # the paper model (embedding.paper_model), when there is one
        self.data_dir = Path(settings.data_dir)
        self.key = settings.index_key()
        self.generations = Generations(self.data_dir)
        self._client: Any = None
        self._gen: Generation | None = None
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        self._collections: dict[str, Any] = {}
        self._sentences: SentenceStore | None = None
        self._paper_model: PaperModelVectors | None = None

    # -- paths and identity --------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {**self.settings.index_identity(), "embedder": self.embedder.name}

    @property
    def generation(self) -> Generation | None:
        """The generation this Index answers from, read once (see `stale` for switching)."""
        if self._gen is None:
            self._stamp = self.generations.stamp()
            self._gen = self.generations.current()
        return self._gen

    @property
    def generation_dir(self) -> Path:
        """Folder of the answering generation: where files derived from its catalog belong."""
        return self._require().dir

    @property
    def catalog_path(self) -> Path:
        return self._require().catalog_path

    def read_meta(self) -> dict[str, Any] | None:
        gen = self.generation
        return gen.meta if gen else None

    def state_problem(self) -> str | None:
        """Why this data dir cannot answer (with what to run), or None when it can."""
        d = self.data_dir
        gen = self.generation
        if gen is None and (name := self.generations.current_name()):
            return (
                f"{d / POINTER} names generation {name}, but {d / GENERATIONS / name / 'index.json'} is missing or "
                "unreadable: copy a generation's whole folder before switching current.json to it, or run `rag ingest`"
            )
        if gen is None:
            if self.generations.unfinished():
                return f"the last ingest into {d} did not finish: run `rag ingest`"
            if (d / "index.json").is_file():
                return f"the index in {d} was built by an older version of paperchat: run `rag ingest` to rebuild it"
            return f"no index in {d}: run `rag ingest` first (or `make run`)"
        if gen.meta.get("identity") != self.identity():
            return (
                f"the index in {d} was built with {gen.meta.get('identity')}, but the settings ask for "
                f"{self.identity()}. Run `rag ingest` to build an index for these settings."
            )
        if missing := self._missing_files(gen):
            return (
                f"generation {gen.name} in {d} is incomplete ({', '.join(missing)} missing): copy a generation's "
                "whole folder before switching current.json to it, or run `rag ingest`"
            )
        return None

    @staticmethod
    def _missing_files(gen: Generation) -> list[str]:
        """Files the answering path reads that are absent (a copy or rsync of the folder that stopped short)."""
        need = [gen.catalog_path]
        if "sentences" in gen.meta:
            need += [gen.dir / "sentences.json", gen.dir / "sentences.npy"]
        if gen.meta.get("sentence_texts"):
            need.append(gen.dir / gen.meta["sentence_texts"])
        if gen.meta.get("bm25_digest"):
            need.append(gen.keywords_dir)
        return [p.name for p in need if not p.exists()]

    def is_built(self) -> bool:
        """True when an index for these settings exists; raises when one exists for other settings."""
        problem = self.state_problem()
        if problem and "built with" in problem:
            raise IndexStateError(problem)
        return problem is None

    def _require(self) -> Generation:
        problem = self.state_problem()
        if problem:
            raise IndexStateError(problem)
        assert self._gen is not None
        return self._gen

    def stale(self, every_s: float = 1.0) -> bool:
        """True when another generation became current since this Index read the pointer (checked by one
        stat at most every `every_s` seconds)."""
        now = time.monotonic()
        if now - self._checked < every_s:
            return False
        self._checked = now
        return self.generations.stamp() != self._stamp

    # -- chroma --------------------------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            c = self.settings.chroma
            if c.mode == "server":
                from rag.chroma_client import connect

                self._client = connect(c)  # probes the server first: a clear error instead of a hang
            else:
                import chromadb

                self._client = chromadb.PersistentClient(
                    path=str(self._chroma_path()), settings=chromadb.Settings(anonymized_telemetry=False)
                )
        return self._client

    def _chroma_path(self) -> Path:
        """The Chroma folder; a read-only one is opened from a private copy (Chroma writes even to read)."""
        path = self.data_dir / "chroma"
        sqlite = path / "chroma.sqlite3"
        if sqlite.is_file() and not (os.access(path, os.W_OK) and os.access(sqlite, os.W_OK)):
            import tempfile

            copy = Path(tempfile.mkdtemp(prefix="rag-readonly-chroma-")) / "chroma"
            atexit.register(shutil.rmtree, copy.parent, True)
            shutil.copytree(path, copy)
            for p in [copy, *copy.rglob("*")]:
                p.chmod(0o755 if p.is_dir() else 0o644)
            return copy
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _collection_names(self, gen_name: str) -> tuple[str, str]:
        base = f"{self.settings.chroma.collection_prefix}_{self.key}_{gen_name}"
        return f"{base}_c", f"{base}_p"

    def _open(self, name: str) -> Any:
        if name not in self._collections:
            client = self.client()
            with self._server_errors():
                try:
                    self._collections[name] = client.get_collection(name)
                except Exception as exc:
                    if type(exc).__name__ != "NotFoundError":
                        raise
                    raise IndexStateError(self._missing_collection(name)) from None
        return self._collections[name]

    def _server_errors(self) -> contextlib.AbstractContextManager[None]:
        from rag.chroma_client import server_errors

        return server_errors(self.settings.chroma)

    def _missing_collection(self, name: str) -> str:
        gen = self.generation.name if self.generation else "?"
        c = self.settings.chroma
        if c.mode == "server":
            where = f"the Chroma server at {c.url} (tenant {c.tenant}, database {c.database})"
            why = (
                "this process points at another server, tenant or database than the ingest did, or the generation "
                "is older than the one before the newest (ingest deletes older collections): check RAG_CHROMA__*, "
                "or roll out the newest generation"
            )
        else:
            where, why = f"{self.data_dir / 'chroma'}", "the chroma folder does not match current.json"
        return f"{where} has no collection {name}, which generation {gen} of {self.data_dir} needs: {why}"

    def collection(self) -> Any:
        """The chunk collection of the answering generation (None: it keeps its chunk vectors in dense/ only)."""
        name = self._require().meta["collections"].get("chunks")
        return None if name is None else self._open(name)

    def papers_collection(self) -> Any:
        return self._open(self._require().meta["collections"]["papers"])

    def load_catalog(self) -> Catalog:
        try:
            return Catalog.load(self._require().catalog_path)
        except CatalogSchemaError as exc:
            raise IndexStateError(f"{exc} ({self.data_dir})") from exc

    def load_keywords(self, catalog: Catalog, tokenize: Tokenizer) -> KeywordIndex:
        """The generation's BM25 index, memory-mapped; a generation of an older version has none saved, and gets
        one built in memory from its catalog (the next `rag ingest` saves one)."""
        folder = self._require().keywords_dir
        if KeywordIndex.digest_of(folder) is not None:
            return KeywordIndex.open(folder)
        return KeywordIndex.build([paper_search_text(p) for p in catalog.iter_papers()], tokenize)

    # -- query ---------------------------------------------------------------------------------
    def query(
        self, vector: list[float], n: int, paper_ids: list[str] | None = None
    ) -> list[tuple[str, str, str, float]]:
        """Nearest chunks: (chunk id, paper id, chunk text, cosine similarity), best first."""
        if paper_ids is not None and not paper_ids:
            return []
        total = int(self._require().meta.get("chunks", 0))
        if total == 0:
            return []
        with self._server_errors():
            res = self.collection().query(
                query_embeddings=[vector],
                n_results=max(1, min(n, total)),
                where={"paper_id": {"$in": paper_ids}} if paper_ids is not None else None,
                include=["documents", "metadatas", "distances"],
            )
        return [
            (cid, str(meta["paper_id"]), doc or "", 1.0 - float(dist))
            for cid, doc, meta, dist in zip(
                res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
        ]

    def paper_vector(self, paper_id: str) -> list[float] | None:
        """The stored title + abstract vector of a paper (normalised), or None for an unknown paper."""
        with self._server_errors():
            got = self.papers_collection().get(ids=[paper_id], include=["embeddings"])
        embeddings = got.get("embeddings")
        if embeddings is None or len(embeddings) == 0:
            return None
        return [float(x) for x in embeddings[0]]

    def query_papers(self, vector: list[float], n: int, paper_ids: list[str] | None = None) -> list[tuple[str, float]]:
        """Nearest papers by their title + abstract vector: (paper id, cosine), best first."""
        if paper_ids is not None and not paper_ids:
            return []
        total = int(self._require().meta.get("papers", 0))
        if total == 0 or n < 1:
            return []
        with self._server_errors():
            res = self.papers_collection().query(
                query_embeddings=[vector],
                n_results=min(n, total),
                where={"paper_id": {"$in": paper_ids}} if paper_ids is not None else None,
                include=["distances"],
            )
        return [(pid, 1.0 - float(d)) for pid, d in zip(res["ids"][0], res["distances"][0], strict=True)]

    def sentence_vectors(self, paper_ids: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
        """paper id -> (its quotable abstract sentences, their normalised float32 vectors, one row each).
        The sentences are as rag.text.sentences() returns them (30..600 chars); the vectors embed
        searchable(sentence). Unknown ids are left out."""
        if self._sentences is None:
            self._sentences = SentenceStore(self._require().dir)
        return self._sentences.get(paper_ids)

    # -- ingest --------------------------------------------------------------------------------
    def ingest(self, corpus_dir: Path, *, progress: bool = True, rebuild: bool = False) -> IngestReport:
        with DataDirLock(self.data_dir, self.settings.ingest.lock_timeout_s):
            if self.settings.chroma.mode == "server":
                from rag.chroma_client import ensure_database

                ensure_database(self.settings.chroma)  # the one writer creates them; replicas only read
            self.client()  # an unreachable or refusing Chroma server fails now, not after the embedding
            from rag.chroma_client import ChromaUnavailableError

            # the server lost mid-ingest: one clear error, not a traceback (embedded Chroma has no server to lose)
            server = self.settings.chroma.mode == "server"
            try:
                with self._server_errors() if server else contextlib.nullcontext():
                    return Ingest(self, Path(corpus_dir), progress=progress, rebuild=rebuild).run()
            except ChromaUnavailableError as exc:
                raise ChromaUnavailableError(
                    f"{exc}; the ingest stopped, the index still answers from its previous generation, and "
                    "`rag ingest` run again reuses the vectors embedded so far"
                ) from None

    def _adopt(self, gen: Generation) -> None:
        """After a switch: answer from the new generation."""
        self._gen, self._stamp, self._sentences, self._paper_model = gen, self.generations.stamp(), None, None

    def paper_model_vectors(self) -> PaperModelVectors | None:
        """The answering generation's paper-model vectors (memory-mapped), or None when it has none of this
        paper model's (built before it was turned on: the next `rag ingest` adds them)."""
        if self._paper_model is None and self.paper_embedder is not None:
            got = PaperModelVectors.open(self._require().dir)
            self._paper_model = got if got is not None and got.model == self.paper_embedder.name else None
        return self._paper_model


class PaperModelVectors:
    """The paper model's vectors of one generation: `paper_model.npy`, one float32 title + abstract row per paper in
    catalog order; `paper_model_sentences.npy`, one row per quotable abstract sentence (`answer_sentences`), paper
    after paper; and `paper_model.json` (model name, each row's paper id and content hash, where each paper's
    sentence rows start). An unchanged paper's rows are copied from the previous generation: only new and edited
    papers are embedded (and every paper's sentences once, after an upgrade from a generation without them)."""

    FILE, SENTENCES, META = "paper_model.npy", "paper_model_sentences.npy", "paper_model.json"

    def __init__(
        self, matrix: np.ndarray, ids: list[str], model: str, hashes: list[str],
        sentences: np.ndarray | None = None, starts: list[int] | None = None,
    ):  # fmt: skip
        self.matrix, self.ids, self.model, self.hashes = matrix, ids, model, hashes
        self.sentences, self.starts = sentences, starts
        self.row = {pid: i for i, pid in enumerate(ids)}

    @classmethod
    def open(cls, folder: Path) -> PaperModelVectors | None:
        try:
            meta = json.loads((folder / cls.META).read_text())
            matrix = read_at_random(np.load(folder / cls.FILE, mmap_mode="r"))
            got = cls(matrix, meta["ids"], meta["model"], meta["hashes"])
        except (OSError, ValueError, KeyError):
            return None
        with contextlib.suppress(OSError, ValueError, KeyError):  # a generation written before the sentence rows
            sentences = read_at_random(np.load(folder / cls.SENTENCES, mmap_mode="r"))
            if len(meta["sentence_starts"]) == len(got.ids) + 1 and meta["sentence_starts"][-1] == len(sentences):
                got.sentences, got.starts = sentences, meta["sentence_starts"]
        return got

    def sentence_rows(self, pid: str) -> np.ndarray | None:
        """This paper's sentence vectors (none stored: None)."""
        i = self.row.get(pid)
        if i is None or self.sentences is None or self.starts is None:
            return None
        return self.sentences[self.starts[i] : self.starts[i + 1]]

    @classmethod
    def write(
        cls, folder: Path, embedder: Embedder, catalog: Catalog, hashes: dict[str, str],
        old: PaperModelVectors | None, settings: Settings, progress: bool = False,
    ) -> None:  # fmt: skip
        """`old`: the previous generation's vectors, opened once by the ingest that also checks them."""
        ids = catalog.ids_in_order()
        reuse: dict[str, int] = {}
        if old is not None and old.model == embedder.name:
            reuse = {pid: old.row[pid] for pid, h in zip(old.row, old.hashes, strict=True) if hashes.get(pid) == h}
        old_sentences = old if old is not None and old.sentences is not None else None
        bar: Any = None
        if progress and (len(reuse) < len(ids) or old_sentences is None):
            from tqdm import tqdm

            bar = tqdm(total=len(ids), initial=len(reuse) if old_sentences else 0, desc=embedder.name, unit="paper",
                       file=sys.stderr)  # fmt: skip
        out = sentence_out = None
        starts = [0]
        step = settings.ingest.batch_papers
        for start in range(0, len(ids), step):  # a batch of papers at a time, in catalog order
            block = ids[start : start + step]
            papers = catalog.at(range(start, start + len(block)))
            todo = [i for i, pid in enumerate(block) if pid not in reuse]
            # Sentences are embedded for the papers embedded, and for every paper the old generation has none of.
            sentences_of = {i: answer_sentences(papers[i].abstract) for i, pid in enumerate(block)
                            if pid not in reuse or old_sentences is None}  # fmt: skip
            texts = [paper_text(papers[i]) for i in todo] + [t for said in sentences_of.values() for t in said]
            vectors = embedder.embed(texts) if texts else []
            fresh = dict(zip(todo, vectors[: len(todo)], strict=True))
            rows = np.asarray(
                [fresh[i] if i in fresh else old.matrix[reuse[pid]]  # type: ignore[union-attr]
                 for i, pid in enumerate(block)], dtype=np.float32,
            )  # fmt: skip
            out = out or RowWriter(folder / cls.FILE, rows.shape[1])
            out.add(rows)
            sentence_out = sentence_out or RowWriter(folder / cls.SENTENCES, rows.shape[1])
            at = len(todo)
            for i, pid in enumerate(block):
                if i in sentences_of:
                    n = len(sentences_of[i])
                    block_rows = np.asarray(vectors[at : at + n], dtype=np.float32).reshape(n, rows.shape[1])
                    at += n
                else:
                    block_rows = old_sentences.sentence_rows(pid)  # type: ignore[union-attr, assignment]
                sentence_out.add(block_rows)
                starts.append(starts[-1] + len(block_rows))
            if bar is not None:
                bar.update(len(sentences_of))
            checkpoint("paper_model")
        for writer in (out, sentence_out):
            if writer is not None:
                writer.close()
        if bar is not None:
            bar.close()
        meta = {"model": embedder.name, "ids": ids, "hashes": [hashes.get(pid, "") for pid in ids],
                "sentence_starts": starts}  # fmt: skip
        _write_atomic(folder / cls.META, json.dumps(meta).encode())


def chunks_in_dense_only(meta: dict[str, Any]) -> bool:
    """Whether a generation (its meta) keeps its chunk vectors in dense/ only (ingested with chroma.chunks off):
    its collections name no chunk collection. Older generations, without collections listed, have one."""
    return "chunks" not in meta.get("collections", {"chunks": None})


@dataclass
class _Output:
    """Where `Ingest._store` puts the new generation's records: its two collections, dense/ and the sentences."""

    chunk_col: Any  # None: chunk vectors in dense/ only (chroma.chunks off)
    paper_col: Any
    dense: DenseWriter
    sentences: SentenceWriter
    chunks: int = 0

    STEP = 512  # records per Chroma add

    def add_chunks(
        self, ids: list[str], vectors: np.ndarray, documents: list[str], metadatas: list[dict[str, Any]]
    ) -> None:
        for start in range(0, len(ids) if self.chunk_col is not None else 0, self.STEP):
            end = start + self.STEP
            self.chunk_col.add(
                ids=ids[start:end],
                embeddings=vectors[start:end],
                documents=documents[start:end],
                metadatas=metadatas[start:end],
            )
            checkpoint("during_chroma")
        self.dense.add_chunks(ids, vectors, list(documents), [str(m["paper_id"]) for m in metadatas])
        self.chunks += len(ids)

    def add_papers(self, ids: list[str], vectors: np.ndarray) -> None:
        for start in range(0, len(ids), self.STEP):
            end = start + self.STEP
            self.paper_col.add(
                ids=ids[start:end], embeddings=vectors[start:end], metadatas=[{"paper_id": p} for p in ids[start:end]]
            )
        self.dense.add_papers(ids, vectors)


class _Tally:
    """What planning an ingest needs of every paper, taken as the papers stream into the catalog (none is kept):
    each one's content hash by id in catalog order, the files they were read from, and the digests of the catalog
    and of the keyword index's input."""

    def __init__(self) -> None:
        self.hashes: dict[str, str] = {}
        self.files: set[str] = set()
        self.catalog, self.search = paper_digester(), SearchTexts()

    def watch(self, papers: Iterable[Paper]) -> Iterator[Paper]:
        for p in papers:
            self.hashes[p.paper_id] = paper_hash(p)
            self.files.update(sys.intern(s.file) for s in p.provenance)
            self.catalog.add(p)
            self.search.add(p)
            yield p


class Ingest:
    """One ingest run: parse and merge, the catalog written as its papers come -> plan (what changed) -> BM25 ->
    copy the unchanged papers -> per batch of changed papers (read back from the catalog): chunk -> embed -> store
    -> the catalog moved into the generation -> switch -> clean up."""

    def __init__(self, index: Index, corpus_dir: Path, *, progress: bool, rebuild: bool):
        self.index = index
        self.settings = index.settings
        self.corpus_dir = corpus_dir
        self.progress = progress
        self.rebuild = rebuild
        self.report = IngestReport()
        self.journal = VectorJournal(index.data_dir / "resume", index.key)
        self._t = time.perf_counter()
        self._catalogued = 0  # papers the catalog gave, before `_admit`

    def _stage(self, name: str, t0: float) -> float:
        now = time.perf_counter()
        self.report.stages[name] = round(self.report.stages.get(name, 0.0) + now - t0, 3)
        return now

    def run(self) -> IngestReport:
        staged = self.index.data_dir / STAGED
        try:
            return self._run(staged)
        finally:
            staged.unlink(missing_ok=True)  # moved into the new generation, or left by a refused or failed ingest

    def _run(self, staged: Path) -> IngestReport:
        idx, report = self.index, self.report
        t0 = time.perf_counter()
        # The catalog is written as its papers come (records spilled to the data dir while the corpus is read),
        # and every later step reads the papers back from it a batch at a time: no step holds every paper.
        cat_report, tally = CatalogReport(), _Tally()
        papers = iter_catalog(self.corpus_dir, cat_report, idx.settings.corpus, spill_dir=idx.data_dir)
        write_catalog(staged, tally.watch(self._admit(papers)), after_batch=lambda _: checkpoint("during_catalog"))
        report.copies = cat_report.records
        report.merged = cat_report.records - self._catalogued
        report.problems = len(cat_report.problems)
        report.catalog_lines = cat_report.lines()
        report.papers = len(tally.hashes)
        t0 = self._stage("parse", t0)

        gens = idx.generations
        prev = gens.current()
        same = prev is not None and prev.meta.get("identity") == idx.identity()
        prev_usable = prev if same and not self.rebuild else None  # what unchanged papers are copied from
        report.rebuilt = prev is not None and prev_usable is None
        if prev is not None and same:
            self._refuse_lost_sources(prev, tally.files)
        self._collect_garbage(keep=[prev] if prev else [])

        hashes = tally.hashes
        old_hashes = prev_usable.hashes if prev_usable else {}
        keep = {pid for pid, h in hashes.items() if old_hashes.get(pid) == h}
        removed = set(old_hashes) - set(hashes)
        report.papers_updated = len(hashes) - len(keep)
        report.papers_removed = len(removed) if prev_usable else 0
        digest = f"{SCHEMA_VERSION}:{tally.catalog.hexdigest()}"  # a new catalog schema rewrites the catalog
        unchanged = not report.papers_updated and not removed
        # The paper model is not part of the identity: turning it on adds its vectors (chunks are copied), and
        # an index built with it still answers with it turned off.
        old_vectors = PaperModelVectors.open(prev_usable.dir) if prev_usable and idx.paper_embedder else None
        has_paper_model = idx.paper_embedder is None or (
            old_vectors is not None and old_vectors.model == idx.paper_embedder.name
            and old_vectors.sentences is not None
        )  # fmt: skip
        if prev_usable and unchanged and has_paper_model and prev_usable.meta.get("catalog_digest") == digest:
            report.unchanged, report.generation = True, prev_usable.name
            idx._adopt(prev_usable)
            report.seconds = time.perf_counter() - self._t
            return report

        for name in ("chunk", "embed", "store"):  # the report lists every stage, in this order, even when idle
            report.stages.setdefault(name, 0.0)
        self._stage("store", t0)  # the plan: hashes and the clean-up of killed generations
        gen = gens.new()
        catalog = Catalog.open(staged)
        # BM25 before the vectors: its score matrix (~1 GB at 1M papers) is freed before Chroma's index grows.
        t0 = time.perf_counter()
        bm25_digest = self._keywords(gen, prev, tally.search, catalog)
        self._stage("store", t0)
        checkpoint("before_chroma")
        meta = self._store(gen, prev_usable, catalog, keep, hashes)
        if idx.paper_embedder is not None:
            t0 = time.perf_counter()
            PaperModelVectors.write(gen.dir, idx.paper_embedder, catalog, hashes, old_vectors, self.settings,
                                    progress=self.progress)  # fmt: skip
            self._stage("embed", t0)
        t0 = time.perf_counter()
        checkpoint("after_chroma")
        os.replace(staged, gen.dir / CATALOG)  # complete and fsync'd (write_catalog); the generation is not current
        checkpoint("after_catalog")
        meta["catalog_digest"] = digest
        meta["bm25_digest"] = bm25_digest
        gen.meta = meta
        _write_atomic(gen.dir / "index.json", json.dumps(meta, indent=1).encode())
        gens.switch(gen)
        idx._adopt(gen)
        report.generation = gen.name
        self.journal.discard()
        checkpoint("after_switch")
        self._collect_garbage(keep=[gen] + ([prev] if prev is not None and same else []))
        self._stage("store", t0)
        report.seconds = time.perf_counter() - self._t
        return report

    def _keywords(self, gen: Generation, prev: Generation | None, search: SearchTexts, catalog: Catalog) -> str:
        """The BM25 index of the new generation (`search`: its papers' search texts, as digest and keys), here at
        ingest, never at query time: the previous one's files when no paper's search text changed; else updated
        from the previous one's saved counts, tokenizing only the papers whose search text is new; else (no counts
        saved: a generation of an older version, or another tokenizer) built from every paper of its `catalog`."""
        t0 = time.perf_counter()
        digest = search.hexdigest()
        counts = gen.dir / (KEYWORDS + ".counts")  # moved into bm25/ by `save`; inside the generation if killed
        if prev is not None and KeywordIndex.digest_of(prev.keywords_dir) == digest:
            KeywordIndex.reuse(prev.keywords_dir, gen.keywords_dir)
            how = "reused (no search text changed)"
        else:
            how = ""
            if prev is not None and KeywordIndex.updatable(prev.keywords_dir):

                def texts_at(ords: list[int]) -> list[str]:
                    return [paper_search_text(p) for p in catalog.at(ords)]

                keys = search.keys()
                try:
                    index, n = KeywordIndex.update(prev.keywords_dir, keys, texts_at, Tokenizer(), counts=counts)
                    index.save(gen.keywords_dir, digest)
                    how = f"updated ({n:,} of {len(keys):,} papers tokenized)"
                except (OSError, ValueError, KeyError, sqlite3.Error) as exc:  # damaged counts: build in full
                    shutil.rmtree(counts, ignore_errors=True)
                    shutil.rmtree(gen.keywords_dir, ignore_errors=True)
                    how = f"not updated ({type(exc).__name__}: {exc}), "
            if not how.startswith("updated"):
                texts = (paper_search_text(p) for p in catalog.iter_papers())
                KeywordIndex.build(texts, Tokenizer(), counts=counts).save(gen.keywords_dir, digest)
                how += f"built ({len(catalog):,} papers tokenized)"
        self.report.keywords = f"{how} in {time.perf_counter() - t0:.2f} s"
        return digest

    # -- parse: one bad record never stops the ingest -------------------------------------------------
    def _admit(self, papers: Iterable[Paper]) -> Iterator[Paper]:
        """The catalog's papers an index can take, as they come: over-long abstracts skipped, ids made unique."""
        limit = self.settings.ingest.max_abstract_chars
        seen: dict[str, int] = {}
        for p in papers:
            self._catalogued += 1
            where = f"{p.provenance[0].file}:{p.provenance[0].line}" if p.provenance else p.paper_id
            if len(p.abstract) > limit:
                self.report.notes.append(
                    f"{where}: skipped {p.paper_id} ({p.title[:60]!r}): abstract of {len(p.abstract):,} characters "
                    f"is over the {limit:,}-character limit (ingest.max_abstract_chars)"
                )
                self.report.skipped += 1
                continue
            if p.paper_id in seen:  # two records the catalog could not tell apart: keep both, ids told apart
                seen[p.paper_id] += 1
                new_id = f"{p.paper_id}-{seen[p.paper_id]}"
                self.report.notes.append(f"{where}: duplicate paper id {p.paper_id}; stored as {new_id}")
                p = p.model_copy(update={"paper_id": new_id})
            seen.setdefault(p.paper_id, 1)
            yield p

    def _refuse_lost_sources(self, prev: Generation, files: set[str]) -> None:
        """A source that still exists but now yields no paper was most likely misread (a wrong format):
        applying that catalog would silently remove all its papers, so the previous index is kept."""
        try:
            old = Catalog.load(prev.catalog_path)
        except (OSError, ValueError, sqlite3.Error):
            return
        if not len(old):
            return
        gone = sorted(set(old.provenance_files()) - files)
        lost = [f for f in gone if (self.corpus_dir / f).is_file() or Path(f).is_file()]
        if not files or lost:
            what = ", ".join(lost) if lost else str(self.corpus_dir)
            raise IndexStateError(
                f"refusing to apply this ingest: {what} yielded no papers, but the index has papers from it "
                f"(a page with the wrong format, or an emptied file?). The previous index ({len(old)} papers) is "
                "kept. Fix the page or remove it from the manifest, then run `rag ingest` again."
            )

    # -- chunk ---------------------------------------------------------------------------------
    def texts(self, papers: list[Paper]) -> tuple[list[_Chunk], dict[str, list[str]], list[str]]:
        """Chunks, quotable sentences, and every text to embed for these papers in one pass:
        chunks, then one title + abstract text per paper, then the sentences (bench/ingest.py uses it too)."""
        chunks = self._chunks(papers)
        sents = {p.paper_id: answer_sentences(p.abstract) for p in papers}
        texts = [c.embed_text for c in chunks] + [paper_text(p) for p in papers]
        texts += [searchable(s) for p in papers for s in sents[p.paper_id]]
        return chunks, sents, texts

    def _chunks(self, papers: list[Paper]) -> list[_Chunk]:
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.schema import MetadataMode

        from rag.tokens import encoding

        ch = self.settings.chunking
        enc = encoding(ch.encoding)
        splitter = SentenceSplitter(
            chunk_size=ch.chunk_size,
            chunk_overlap=ch.chunk_overlap,
            tokenizer=lambda t: enc.encode(t, disallowed_special=()),  # "<|endoftext|>" in an abstract is text
            id_func=lambda i, doc: f"{doc.doc_id}#{i}",  # stable ids: one paper's chunks are #0, #1, ...
        )
        budget = ch.chunk_size - MIN_CHUNK_CONTENT_TOKENS
        docs = [paper_document(p, max_metadata_tokens=budget, encoding_name=ch.encoding) for p in papers]
        titles = {p.paper_id: searchable(p.title) for p in papers}  # the full title, shown even when trimmed
        for p, doc in zip(papers, docs, strict=True):
            if doc.metadata.get("trimmed"):
                self.report.notes.append(
                    f"{p.paper_id} ({p.title[:60]!r}): title/authors longer than the chunk allows; embedded "
                    f"with shortened metadata ({doc.metadata['authors'][:60]!r})"
                )
        out: list[_Chunk] = []
        for node in splitter.get_nodes_from_documents(docs):  # one call: the splitter's overhead is per call
            meta = {k: v for k, v in node.metadata.items() if k != "trimmed"}
            meta["title"] = titles[meta["paper_id"]]
            out.append(
                _Chunk(
                    node.node_id,
                    meta["paper_id"],
                    node.get_content(metadata_mode=MetadataMode.EMBED),
                    node.get_content(metadata_mode=MetadataMode.NONE),
                    meta,
                )
            )
        return out

    # -- embed: one pass per batch, texts sorted by length so batches pad little ---------------------------
    def _embed(self, texts: list[str], bar: Any = None) -> np.ndarray:
        """Vectors of the texts, in one pass sorted by length; every batch is journalled as it is made, and
        texts already journalled (by an interrupted earlier run, or an earlier batch of papers of this one) are
        taken from the journal (rag/resume.py)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        out: np.ndarray | None = None
        done = np.zeros(len(texts), dtype=bool)
        for i, vec, earlier in self.journal.lookup(keys):
            if out is None:
                out = np.zeros((len(texts), len(vec)), dtype=np.float32)
            out[i], done[i] = vec, True
            self.report.vectors_resumed += earlier  # not the texts this run's earlier batches embedded
        order = sorted((i for i in range(len(texts)) if not done[i]), key=lambda i: len(texts[i]))
        size = self.settings.embedding.batch_size
        if bar is not None:
            bar.total += len(texts)
            bar.update(int(done.sum()))
        for start in range(0, len(order), size):
            ids = order[start : start + size]
            vecs = np.asarray(self.index.embedder.embed([texts[i] for i in ids]), dtype=np.float32)
            if out is None:
                out = np.zeros((len(texts), vecs.shape[1]), dtype=np.float32)
            out[ids] = vecs
            self.journal.add([keys[i] for i in ids], vecs)
            if start == 0:
                checkpoint("during_embed")
            if bar is not None:
                bar.update(len(ids))
        assert out is not None
        return out

    # -- store: streamed, a page or a batch of papers at a time ------------------------------------------------
    def _store(
        self,
        gen: Generation,
        prev: Generation | None,
        catalog: Catalog,
        keep: set[str],
        hashes: dict[str, str],
    ) -> dict[str, Any]:
        """Fills the new generation's collections and vector files: the kept papers copied from `prev` a Chroma
        page at a time, then the changed papers (`catalog`'s papers not in `keep`; `hashes`: every paper's, in
        catalog order) in batches of `ingest.batch_papers`, each read from the catalog, chunked, embedded and
        stored before the next is read. No step holds more than a page or a batch of papers or vectors."""
        idx, report = self.index, self.report
        t0 = time.perf_counter()
        client = idx.client()
        chunk_name, paper_name = idx._collection_names(gen.name)
        space = {"hnsw:space": "cosine"}
        # The new generation's collections hold every paper: unchanged ones copied, changed ones new.
        in_chroma = self.settings.chroma.chunks
        out = _Output(
            client.create_collection(chunk_name, metadata=space, get_or_create=False) if in_chroma else None,
            client.create_collection(paper_name, metadata=space, get_or_create=False),
            # Without Chroma's copy, dense/ is the only one: never given up, whatever the size.
            DenseWriter(gen.dir / DENSE_FOLDER, self.settings.retrieval.exact_max_chunks if in_chroma else sys.maxsize),
            SentenceStore.writer(gen.dir),
        )
        dim = int(prev.meta.get("dim", 0)) if prev else 0
        batch = self.settings.ingest.batch_papers
        if prev is not None and keep:
            self._copy(prev, [pid for pid in hashes if pid in keep], out, batch)
        t0 = self._stage("store", t0)

        bar: Any = None
        if self.progress and len(keep) < len(hashes):
            from tqdm import tqdm

            bar = tqdm(total=0, desc="Embedding", unit="text", file=sys.stderr)
        changed = (p for p in catalog.iter_papers() if p.paper_id not in keep)
        while part := list(islice(changed, batch)):
            chunks, sents, texts = self.texts(part)
            t0 = self._stage("chunk", t0)
            vectors = self._embed(texts, bar)
            report.chunks_embedded += len(chunks)
            report.papers_embedded += len(part)
            report.sentences_embedded += len(texts) - len(chunks) - len(part)
            t0 = self._stage("embed", t0)
            dim = int(vectors.shape[1]) if vectors.size else dim
            n_chunks, n_part = len(chunks), len(part)
            out.add_chunks(
                [c.chunk_id for c in chunks], vectors[:n_chunks], [c.document for c in chunks],
                [c.metadata for c in chunks],
            )  # fmt: skip
            out.add_papers([p.paper_id for p in part], vectors[n_chunks : n_chunks + n_part])
            at = n_chunks + n_part
            for p in part:
                k = len(sents[p.paper_id])
                out.sentences.add(p.paper_id, sents[p.paper_id], vectors[at : at + k])
                at += k
            del chunks, sents, texts, vectors  # released before the next batch is chunked
            t0 = self._stage("store", t0)
        if bar is not None:
            bar.close()

        # Written only up to retrieval.exact_max_chunks: what exact scoring loads. `hashes` is in catalog order.
        out.dense.close(dim or 1, catalog_order=list(hashes))
        n_sentences = out.sentences.close(dim)
        self._stage("store", t0)
        return {
            "identity": idx.identity(),
            "collections": {"chunks": chunk_name, "papers": paper_name} if in_chroma else {"papers": paper_name},
            "papers": len(hashes),
            "chunks": out.chunks,
            "sentences": n_sentences,
            "sentence_texts": SentenceWriter.TEXTS,
            "dim": dim,
            "hashes": hashes,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def _copy(self, prev: Generation, kept: list[str], out: _Output, batch: int) -> None:
        """The unchanged papers' chunks, paper vectors and sentences, from the previous generation a page at a time
        (`chroma_pages`: one read of a large collection fails inside Chroma)."""
        client = self.index.client()
        keep = set(kept)
        if chunks_in_dense_only(prev.meta):
            self._copy_dense(prev, kept, out, batch)
        else:
            old_chunks = client.get_collection(prev.meta["collections"]["chunks"])
            for page in chroma_pages(old_chunks, ["embeddings", "documents", "metadatas"]):
                pick = [i for i, m in enumerate(page["metadatas"]) if m["paper_id"] in keep]
                if pick:
                    out.add_chunks(
                        [page["ids"][i] for i in pick],
                        np.asarray([page["embeddings"][i] for i in pick], dtype=np.float32),
                        [page["documents"][i] for i in pick], [page["metadatas"][i] for i in pick],
                    )  # fmt: skip
        old_papers = client.get_collection(prev.meta["collections"]["papers"])
        for page in chroma_pages(old_papers, ["embeddings"]):
            pick = [i for i, pid in enumerate(page["ids"]) if pid in keep]
            if pick:
                out.add_papers(
                    [page["ids"][i] for i in pick], np.asarray([page["embeddings"][i] for i in pick], dtype=np.float32)
                )
        SentenceStore(prev.dir).copy(kept, out.sentences)

    def _copy_dense(self, prev: Generation, kept: list[str], out: _Output, batch: int) -> None:
        """The kept papers' chunks from the previous generation's dense/ files (it stored none in Chroma), `batch`
        papers at a time. Their Chroma metadata, should this generation store chunks there, is the paper id alone:
        all that search reads of it."""
        old = VectorCache.open(prev.dir / DENSE_FOLDER)
        if old is None:
            raise IndexStateError(f"generation {prev.name} has neither Chroma chunks nor dense/ files: rebuild")
        for start in range(0, len(kept), batch):
            rows: list[int] = []
            owners: list[str] = []
            for pid in kept[start : start + batch]:
                if (i := old.position(pid)) is not None:
                    span = range(int(old.starts[i]), int(old.ends[i]))
                    rows += span
                    owners += [pid] * len(span)
            if rows:
                out.add_chunks(
                    [old.chunk_ids[r] for r in rows], np.asarray(old.matrix[rows], dtype=np.float32),
                    [old.texts[r] for r in rows], [{"paper_id": o} for o in owners],
                )  # fmt: skip
            old.release()  # what was read of the old maps would otherwise stay resident (4 GB of chunks at 1M)

    # -- clean up ------------------------------------------------------------------------------
    def _collect_garbage(self, keep: list[Generation]) -> None:
        """Delete generations (folders and their collections) other than `keep`: unfinished ones of killed
        ingests, and the older ones. The newest replaced one is kept so a running server that has not yet
        noticed the switch still answers."""
        idx = self.index
        keep_names = {g.name for g in keep}
        in_use = {name for g in keep for name in g.meta.get("collections", {}).values()}
        for name in idx.generations.names():
            if name in keep_names:
                continue
            gen = idx.generations.load(name)  # an older identity's collections carry its own key
            names = set(idx._collection_names(name)) | set(gen.meta.get("collections", {}).values() if gen else [])
            for col in names:
                if col not in in_use:
                    with contextlib.suppress(Exception):  # never created (killed before), or already gone
                        idx.client().delete_collection(col)
            shutil.rmtree(idx.generations.root / name, ignore_errors=True)
        self._drop_legacy()

    def _drop_legacy(self) -> None:
        """Files of the single-state layout (schema 1): index.json + catalog.json + docstore/ at the top."""
        d = self.index.data_dir
        legacy = d / "index.json"
        if not legacy.is_file() or self.index.generations.current_name() is None:
            return
        with contextlib.suppress(Exception):
            name = json.loads(legacy.read_text()).get("collection")
            if name:
                self.index.client().delete_collection(name)
        shutil.rmtree(d / "docstore", ignore_errors=True)
        for f in ("catalog.json", "index.json"):
            with contextlib.suppress(OSError):
                (d / f).unlink()
