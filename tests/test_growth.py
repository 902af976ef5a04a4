"""The growth benchmark's parts: the synthetic arXiv snapshot, the derived vectors, and a whole 200-paper run
producing the table, the JSON and the plot. Figures are not asserted (they live in bench/results)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.catalog import build_catalog
from rag.engine import Engine
from rag.settings import CorpusSettings
from rag.text import searchable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from derived_embed import DerivedEmbedder, known_vectors  # noqa: E402
from make_arxiv_snapshot import pools, records  # noqa: E402

SNAPSHOT_KEYS = {"id", "title", "abstract", "authors", "authors_parsed", "categories", "comments", "journal-ref",
                 "doi", "update_date", "versions"}  # fmt: skip


def test_snapshot_is_seeded_real_text_in_the_arxiv_shape(tmp_path: Path) -> None:
    recs = list(records(300, seed=3))
    assert recs == list(records(300, seed=3))
    assert recs != list(records(300, seed=4))
    pool = pools(ROOT / "corpus")[0]
    for r in recs[:60]:
        assert SNAPSHOT_KEYS <= set(r)
        abstract = str(r["abstract"]).strip()
        used = [s for s in pool if s in abstract]  # real sentences recombined: they make up the abstract
        assert len(used) >= 4 and sum(len(s) + 1 for s in used) >= len(abstract)
    assert len({r["id"] for r in recs}) == 300
    authors = {a.strip() for r in recs for a in str(r["authors"]).split(",")}
    assert len(authors) > 200  # a spread of authors, not the corpus's 20 names over and over
    path = tmp_path / "snap.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    papers, report = build_catalog(path, CorpusSettings(format="arxiv-snapshot"))
    assert len(papers) == 300 and not report.problems
    assert all(p.arxiv_id and p.date and p.authors for p in papers)


def test_derived_vectors_stay_close_to_real_ones(built_engine: Engine, tmp_path: Path) -> None:
    real = built_engine.embedder
    pool = pools(ROOT / "corpus")[0]
    known = known_vectors(real, pool, [Path(built_engine.settings.data_dir)], tmp_path)
    assert len(known) == len({searchable(s) for s in pool})
    assert list(tmp_path.glob("growth-sentences-*.npy"))  # cached for the next run
    derived = DerivedEmbedder(real, known)
    recs = list(records(6, seed=1))
    texts = [searchable(pool[0])] + [f"{r['title']}\n\n{searchable(str(r['abstract']).strip())}" for r in recs]
    got = np.asarray(derived.embed(texts))
    want = np.asarray(real.embed(texts))
    assert float(got[0] @ want[0]) > 0.95  # a known sentence: its real vector plus noise
    # A recombined paper: the mean of its sentences' vectors is nearer its own real vector than any other paper's.
    sims = got[1:] @ want[1:].T
    assert (sims.argmax(axis=1) == np.arange(len(recs))).all()
    assert np.diag(sims).min() > 0.6
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert derived.embedded == 0 and derived.derived == len(texts)
    assert derived.name == real.name
    question = "what is a normalizing flow?"
    assert np.allclose(derived.embed_query(question), real.embed_query(question))


@pytest.mark.integration
def test_a_200_paper_growth_run_writes_table_json_and_plot(built_engine: Engine, tmp_path: Path) -> None:
    out, work = tmp_path / "results", tmp_path / "work"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "growth.py"), "--sizes", "200", "--oneshot-runs", "1",
         "--workdir", str(work), "--out", str(out), "--vectors-from", str(built_engine.settings.data_dir)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((out / "growth.json").read_text())
    r = result["sizes"]["200"]
    assert "ingest_failed" not in r and "serve_failed" not in r and "first_answer_failed" not in r
    assert r["vectors"] == "derived" and "DERIVED" in result["derived_vectors_note"]
    assert r["search_ms"]["n"] == r["ask_ms"]["n"] == len(result["questions"]) >= 25
    assert 0 < r["search_ms"]["p50"] <= r["search_ms"]["p95"]
    assert r["first_answer_s"] > 0 and r["ingest_peak_rss_mb"] > 50 and r["disk_mb"] > 0
    assert set(r["ingest_stages_s"]) >= {"parse", "chunk", "embed", "store"}
    assert r["texts_derived"] > 0 and r["refused"] < r["questions"]
    md = (out / "growth.md").read_text()
    assert "| papers | 200 |" in md and "search p50 / p95" in md and "DERIVED vectors" in md
    assert "search p95 ≤ 50 ms at 100k: **not measured**" in md
    assert "search p50 / p95" in proc.stdout
    png = (out / "growth.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    assert not list(work.iterdir())  # snapshot and data dir removed
