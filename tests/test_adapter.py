"""The query adapter (rag/adapter.py): a linear map on the paper model's question vectors, read from an .npz;
documents pass unchanged, a file for another model or a broken file is not used (a note, no error), and the shipped
one stays close to the identity. No model is loaded here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.adapter import AdaptedQueries, QueryAdapter, adapter_for, shipped_path
from rag.embed import make_paper_embedder
from rag.examples import ExampleQuestions, examples_for
from rag.settings import EmbeddingSettings

MODEL = "paper:all-mpnet-base-v2"


class Fixed:
    """A stand-in embedder: every text's vector is (1, 0, 0)."""

    name = "paper:fixed"

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.0, 0.0] for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0, 0.0]


def rotation() -> np.ndarray:
    """(1, 0, 0) -> (0.6, 0.8, 0)."""
    m = np.eye(3, dtype=np.float32)
    m[0] = [0.6, 0.8, 0.0]
    return m


def test_questions_move_and_documents_do_not() -> None:
    wrapped = AdaptedQueries(Fixed(), QueryAdapter(rotation() * 2.0, "paper:fixed", {}))
    assert wrapped.name == "paper:fixed"  # same model: the stored vectors still match
    assert wrapped.embed(["a paper"]) == [[1.0, 0.0, 0.0]]
    assert np.allclose(wrapped.embed_query("a question"), [0.6, 0.8, 0.0])  # moved, and unit length again


def test_a_vector_of_another_width_passes_unchanged() -> None:
    adapter = QueryAdapter(rotation(), "paper:fixed", {})
    assert adapter.apply([0.0, 1.0]) == [0.0, 1.0]


def test_saved_and_loaded_in_float16_without_losing_the_ranking(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    m = np.eye(64, dtype=np.float32) + 0.05 * rng.standard_normal((64, 64)).astype(np.float32)
    QueryAdapter(m, "paper:x", {"questions": 3}).save(tmp_path / "a.npz")
    got = QueryAdapter.load(tmp_path / "a.npz")
    assert got.model == "paper:x" and got.meta == {"questions": 3}
    q = rng.standard_normal(64).astype(np.float32).tolist()
    exact, stored = np.asarray(QueryAdapter(m, "paper:x", {}).apply(q)), np.asarray(got.apply(q))
    assert float(exact @ stored) > 1 - 1e-5


def save_adapter(path: Path, model: str) -> None:
    QueryAdapter(rotation(), model, {}).save(path)


def save_examples(path: Path, model: str) -> None:
    ExampleQuestions.of(np.eye(2), ["p1", "p2"], model).save(path)


@pytest.mark.parametrize(("load", "save"), [(adapter_for, save_adapter), (examples_for, save_examples)])
def test_setting_names_none_the_shipped_file_or_a_path(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, load: Any, save: Callable[[Path, str], None]
) -> None:
    """The query adapter and the example questions are read alike (rag/adapter.fitted_file)."""
    load.cache_clear()
    assert load("none", MODEL) is None
    assert load("shipped", "paper:no-such-model") is None  # nothing shipped for it: quietly off
    path = tmp_path / "mine.npz"
    save(path, "paper:fixed")
    assert load(str(path), "paper:fixed") is not None
    with caplog.at_level(logging.WARNING, logger="rag.adapter"):
        assert load(str(path), MODEL) is None  # made with another model
        assert "made with paper:fixed" in caplog.text
        broken = tmp_path / "broken.npz"
        broken.write_bytes(b"not a zip")
        assert load(str(broken), MODEL) is None
        assert load(str(tmp_path / "absent.npz"), MODEL) is None
    assert caplog.text.count("not used") == 3
    load.cache_clear()


def test_the_shipped_adapter_is_square_for_the_paper_model_and_near_the_identity() -> None:
    got = QueryAdapter.load(shipped_path(MODEL))
    assert got.model == MODEL and got.matrix.shape == (768, 768)
    assert got.meta["questions"] >= 500 and "penalty" in got.meta
    # It moves questions, but not far: no entry strays more than 0.05 from the identity, and no direction is
    # stretched or squeezed by more than a factor of 3; yet it is not the identity.
    diff = got.matrix - np.eye(768, dtype=np.float32)
    singular = np.linalg.svd(got.matrix, compute_uv=False)
    assert 0.001 < float(np.abs(diff).max()) < 0.05
    assert 1 / 3 < float(singular.min()) and float(singular.max()) < 3


def test_the_paper_embedder_is_wrapped_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from rag import embed

    monkeypatch.setattr(embed, "_paper_embedder", lambda *a: Fixed())
    monkeypatch.setattr(embed, "adapter_for", lambda setting, model: None if setting == "none" else
                        QueryAdapter(rotation(), model, {}))  # fmt: skip
    assert isinstance(make_paper_embedder(EmbeddingSettings(paper_model="all-mpnet-base-v2")), AdaptedQueries)
    plain = make_paper_embedder(EmbeddingSettings(paper_model="all-mpnet-base-v2", paper_query_adapter="none"))
    assert isinstance(plain, Fixed)


def test_training_questions_are_in_no_eval_split() -> None:
    """The adapter is fitted on eval/train/ only: an eval question it was fitted on would not measure it."""
    import json

    root = Path(__file__).resolve().parents[1] / "eval"
    train = [json.loads(line) for f in sorted((root / "train").glob("*.jsonl")) for line in f.read_text().splitlines()]
    assert len(train) >= 500 and len({r["id"] for r in train}) == len(train)
    assert all(r["id"].startswith("t") and r["gold"] and r["kind"] in ("lay", "fact") for r in train)
    asked = {json.loads(line)["question"].strip().lower() for f in root.glob("*.jsonl")
             for line in f.read_text().splitlines() if line.strip()}  # fmt: skip
    assert not [r["id"] for r in train if r["question"].strip().lower() in asked]
