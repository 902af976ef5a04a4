"""The ingest's vector journal (rag/resume.py): what a killed ingest leaves, and a damaged journal."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.resume import VectorJournal, text_key


def test_a_damaged_resume_journal_is_dropped_not_fatal(tmp_path: Path) -> None:
    journal = VectorJournal(tmp_path / "resume", "k")
    journal.add([text_key("a")], np.ones((1, 4), dtype=np.float32))
    assert [i for i, _, _ in journal.lookup([text_key("b"), text_key("a")])] == [1]
    journal.discard()
    journal.path.parent.mkdir(parents=True, exist_ok=True)
    journal.path.write_bytes(b"not a database at all" * 100)
    assert list(VectorJournal(tmp_path / "resume", "k").lookup([text_key("a")])) == []
    assert not journal.path.exists()


def test_the_journal_tells_an_interrupted_runs_vectors_from_this_runs(tmp_path: Path) -> None:
    VectorJournal(tmp_path / "resume", "k").add([text_key("old")], np.ones((1, 4), dtype=np.float32))  # killed run
    journal = VectorJournal(tmp_path / "resume", "k")
    assert [(i, earlier) for i, _, earlier in journal.lookup([text_key("old"), text_key("new")])] == [(0, True)]
    journal.add([text_key("new")], np.full((1, 4), 2, dtype=np.float32))  # an earlier batch of this run
    got = {i: (vec.tolist(), earlier) for i, vec, earlier in journal.lookup([text_key("new"), text_key("old")])}
    assert got == {0: ([2.0] * 4, False), 1: ([1.0] * 4, True)}
