"""Example questions (rag/examples.py): questions about a paper, whose closest ones vote for their paper on lay
questions. Read from an .npz; one embedded by another model or a broken file is not used (a note, no error). No
model is loaded here; the setting's files are read as the adapter's are (tests/test_adapter.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from rag.adapter import QueryAdapter, shipped_path
from rag.examples import ExampleQuestions, shipped_examples_path

MODEL = "paper:all-mpnet-base-v2"
ROOT = Path(__file__).resolve().parents[1]


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def test_each_paper_gets_its_best_example_whatever_the_order_of_the_rows() -> None:
    rng = np.random.default_rng(0)
    vectors = unit(rng.standard_normal((9, 16)).astype(np.float32))
    ids = ["p2", "p1", "p2", "p3", "p1", "p1", "p3", "p2", "p1"]
    examples = ExampleQuestions.of(vectors, ids, "paper:x")
    assert examples.papers == ["p1", "p2", "p3"]
    q = unit(rng.standard_normal(16).astype(np.float32))
    expected = {p: max(float(v @ q) for v, i in zip(vectors, ids, strict=True) if i == p) for p in ("p1", "p2", "p3")}
    got = examples.best(q)
    assert got.keys() == expected.keys()
    assert all(got[p] == pytest.approx(expected[p], abs=1e-6) for p in expected)
    assert examples.best(np.ones(3, dtype=np.float32)) == {}  # another width: no vote, not a shape error


def test_rows_are_made_unit_length_and_mismatched_ids_refused() -> None:
    examples = ExampleQuestions.of(np.array([[3.0, 4.0]]), ["p1"], "paper:x")
    assert examples.best(np.array([0.6, 0.8], dtype=np.float32))["p1"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ExampleQuestions.of(np.ones((2, 2)), ["p1"], "paper:x")


def test_only_questions_about_the_catalogs_papers_are_kept() -> None:
    """A corpus of one's own shares no paper with the shipped questions: none vote, rather than for absent papers."""
    vectors = np.eye(4, dtype=np.float32)
    examples = ExampleQuestions.of(vectors, ["p2", "p1", "p2", "p3"], "paper:x")
    kept = examples.among({"p2", "p9"})
    assert kept is not None and kept.papers == ["p2"] and len(kept.vectors) == 2
    assert kept.best(vectors[2])["p2"] == pytest.approx(1.0)
    assert examples.among({"p1", "p2", "p3"}) is examples
    assert examples.among({"p9"}) is None


def test_examples_move_through_the_query_adapter_as_questions_do() -> None:
    rotate = np.eye(3, dtype=np.float32)
    rotate[0] = [0.6, 0.8, 0.0]  # (1, 0, 0) -> (0.6, 0.8, 0)
    examples = ExampleQuestions.of(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), ["p1", "p2"], "paper:x")
    moved = examples.moved(QueryAdapter(rotate * 2.0, "paper:x", {}))
    adapted_question = np.asarray(QueryAdapter(rotate, "paper:x", {}).apply([1.0, 0.0, 0.0]), dtype=np.float32)
    assert moved.best(adapted_question)["p1"] == pytest.approx(1.0)  # the same question, moved alike: identical
    assert examples.moved(None) is examples


def test_saved_in_float16_and_loaded_with_the_same_votes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng.standard_normal((40, 64)).astype(np.float32))
    ids = [f"p{i % 7}" for i in range(40)]
    ExampleQuestions.of(vectors, ids, "paper:x").save(tmp_path / "e.npz", {"questions": 40})
    got = ExampleQuestions.load(tmp_path / "e.npz")
    assert got.model == "paper:x" and got.papers == sorted(set(ids))
    q = unit(rng.standard_normal(64).astype(np.float32))
    exact = ExampleQuestions.of(vectors, ids, "paper:x").best(q)
    assert all(abs(got.best(q)[p] - exact[p]) < 1e-3 for p in exact)


def test_the_shipped_examples_are_the_training_questions_of_the_paper_model() -> None:
    """Written by eval/train_adapter.py beside the adapter: one row per training question, its paper's id."""
    assert shipped_examples_path(MODEL) == shipped_path(MODEL).with_suffix(".examples.npz")
    got = ExampleQuestions.load(shipped_examples_path(MODEL))
    train = [json.loads(line) for f in sorted((ROOT / "eval" / "train").glob("*.jsonl"))
             for line in f.read_text().splitlines() if line.strip()]  # fmt: skip
    assert got.model == MODEL and got.vectors.shape == (len(train), 768)
    assert got.papers == sorted({r["gold"][0] for r in train})
    assert all(re.fullmatch(r"p[0-9a-f]{9}", p) for p in got.papers)
    assert np.allclose(np.linalg.norm(got.vectors, axis=1), 1.0, atol=1e-3)
