"""Vectors of an ingest that has not finished, kept as they are made, so an interrupted ingest resumes.

Embedding is nearly all of an ingest's time (a million papers: hours). Each batch's vectors are committed to a
small SQLite journal keyed by the text's hash, one journal per index identity (model, chunking: vectors of other
settings are never reused). A killed, crashed or failed ingest leaves the journal; the next `rag ingest` embeds
only the texts it does not hold. Once the generation holding the vectors is switched in, the journal is deleted.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import numpy as np

LOOKUP_BATCH = 900  # below SQLite's default limit of host parameters per statement


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest()


class VectorJournal:
    def __init__(self, folder: Path, identity_key: str):
        self.path = folder / f"vectors-{identity_key}.sqlite"
        self._db: sqlite3.Connection | None = None
        self._earlier = 0  # rows up to this rowid were written by an earlier, interrupted run

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            # WAL + NORMAL: a committed batch survives a killed process; only a power loss may drop the last one.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS v (k BLOB PRIMARY KEY, vec BLOB NOT NULL)")
            # Keys are only ever inserted (a held text is not embedded again), so rowids order the runs.
            self._earlier = self._db.execute("SELECT coalesce(max(rowid), 0) FROM v").fetchone()[0]
        return self._db

    def lookup(self, keys: list[bytes]) -> Iterator[tuple[int, np.ndarray, bool]]:
        """(position in keys, vector, whether an earlier run journalled it) for every key the journal holds: an
        ingest in batches also finds the texts its own earlier batches embedded (a sentence shared by papers)."""
        if not self.path.is_file():
            return
        where: dict[bytes, list[int]] = {}
        for i, k in enumerate(keys):
            where.setdefault(k, []).append(i)
        unique = list(where)
        found: list[tuple[int, np.ndarray, bool]] = []
        try:
            db = self._conn()
            for start in range(0, len(unique), LOOKUP_BATCH):
                part = unique[start : start + LOOKUP_BATCH]
                marks = ",".join("?" * len(part))
                with closing(db.execute(f"SELECT k, vec, rowid FROM v WHERE k IN ({marks})", part)) as rows:
                    for k, blob, rowid in rows:
                        vec = np.frombuffer(blob, dtype=np.float32)
                        found += [(i, vec, rowid <= self._earlier) for i in where[k]]
        except sqlite3.DatabaseError:  # a damaged journal (a disk fault, a stray file): start over, lose nothing
            self.discard()
            return
        yield from found

    def add(self, keys: list[bytes], vectors: np.ndarray) -> None:
        db = self._conn()
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in zip(keys, vectors, strict=True)]
        db.executemany("INSERT OR REPLACE INTO v (k, vec) VALUES (?, ?)", rows)
        db.commit()

    def discard(self) -> None:
        """The vectors are in a switched-in generation now: this journal has done its job, and journals of
        other settings' interrupted ingests would only be reused by going back to those settings, so a
        finished ingest leaves none (at a million papers a journal is gigabytes)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        for leftover in self.path.parent.glob("vectors-*.sqlite*"):
            leftover.unlink(missing_ok=True)
