"""Crash safety, the ingest lock, serving while ingesting and bad records: a real `rag ingest` process is
killed with SIGKILL at each stage (RAG_TEST_KILL_AT) and the previous index must answer exactly as before."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rag.embed import Embedder
from rag.engine import Engine
from rag.errors import UserError
from rag.index import DataDirLock, IngestLockedError
from tests.conftest import ROOT, make_settings

QUESTIONS = [
    "classifier-free guidance predictor corrector",
    "video stabilization with a log-homography model",
    "which papers study diffusion models?",
]


def run_ingest(
    data: Path, corpus: Path, *extra: str, kill_at: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **env}
    environ.pop("RAG_TEST_KILL_AT", None)
    if kill_at:
        environ["RAG_TEST_KILL_AT"] = kill_at
    for key in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        environ.pop(key, None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "rag.cli",
            "ingest",
            "--data-dir",
            str(data),
            "--corpus",
            str(corpus),
            "--quiet",
            *extra,
        ],
        env=environ,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


def answers(engine: Engine) -> list[Any]:
    """Everything a user sees for a few questions, plus the stored vectors of one paper."""
    out: list[Any] = []
    for q in QUESTIONS:
        found = engine.search(q, k=5)
        out.append([(h.paper_id, h.score, h.dense_score, [e.text for e in h.evidence]) for h in found.hits])
        ans = engine.ask(q)
        out.append((ans.answer, [c.paper_id for c in ans.citations]))
    pid = engine.catalog.papers[0].paper_id
    texts, vecs = engine.index.sentence_vectors([pid])[pid]
    out.append((len(engine.catalog), engine.index.paper_vector(pid), texts, vecs.round(6).tolist()))
    return out


def edit_corpus(corpus: Path) -> None:
    """Change one abstract and remove one paper: a re-ingest then has chunks to embed, copy and drop."""
    page = next(corpus.glob("002_*.txt"))
    lines = page.read_text().splitlines()
    lines[0] = lines[0].replace("often lack meaningful", "frequently lack meaningful")
    page.write_text("\n".join(lines) + "\n")
    profile = next(corpus.glob("000_*.txt"))
    text = profile.read_text()
    profile.write_text(text[: text.index("CVNov 16, 2020")])


def test_sigkill_at_every_stage_keeps_the_previous_index(
    tmp_path: Path, small_corpus: Path, embedder: Embedder
) -> None:
    data = tmp_path / "data"
    settings = make_settings(data, corpus_dir=small_corpus)
    Engine(settings, embedder=embedder).ingest(progress=False)
    before = answers(Engine(settings, embedder=embedder))
    serving = Engine(make_settings(data, corpus_dir=small_corpus, ingest={"reload_check_s": 0}), embedder=embedder)
    assert answers(serving) == before
    edit_corpus(small_corpus)

    for stage in ("before_chroma", "during_chroma", "after_chroma", "during_catalog", "after_catalog"):
        proc = run_ingest(data, small_corpus, kill_at=stage)
        assert proc.returncode == -signal.SIGKILL, (stage, proc.stderr[-2000:])
        assert answers(Engine(settings, embedder=embedder)) == before, stage
        assert answers(serving) == before, stage  # a running engine keeps answering from the old generation
    proc = run_ingest(data, small_corpus, "--rebuild", kill_at="during_chroma")  # interrupted --rebuild
    assert proc.returncode == -signal.SIGKILL
    after_rebuild_kill = Engine(settings, embedder=embedder)
    assert answers(after_rebuild_kill) == before
    assert all(h.dense_score for h in after_rebuild_kill.search(QUESTIONS[0]).hits)  # vectors, not keywords only

    proc = run_ingest(data, small_corpus)  # the next ingest completes, from another process
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "15 papers" in proc.stdout
    fresh = Engine(settings, embedder=embedder)
    assert len(fresh.catalog) == 15
    chunk_papers = {m["paper_id"] for m in fresh.index.collection().get(include=["metadatas"])["metadatas"]}
    assert chunk_papers == {p.paper_id for p in fresh.catalog.papers}
    assert fresh.index.papers_collection().count() == 15
    # killed generations were cleaned up: the current one and the one it replaced remain
    assert len(list((data / "generations").iterdir())) == 2
    # the running engine switched to the new generation without a restart
    assert len(serving.catalog) == 15 and answers(serving) == answers(fresh)


def test_sigkill_after_switch_serves_the_new_index(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    settings = make_settings(data, corpus_dir=small_corpus)
    Engine(settings, embedder=embedder).ingest(progress=False)
    edit_corpus(small_corpus)
    proc = run_ingest(data, small_corpus, kill_at="after_switch")
    assert proc.returncode == -signal.SIGKILL
    engine = Engine(settings, embedder=embedder)
    assert len(engine.catalog) == 15 and engine.search(QUESTIONS[0]).hits
    report = engine.ingest(progress=False)
    assert report.unchanged and report.papers == 15


def test_first_ingest_killed_is_reported_then_completed(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    proc = run_ingest(data, small_corpus, kill_at="during_chroma")
    assert proc.returncode == -signal.SIGKILL
    engine = Engine(make_settings(data, corpus_dir=small_corpus), embedder=embedder)
    with pytest.raises(UserError, match=r"the last ingest into .* did not finish: run `rag ingest`"):
        engine.search("diffusion")
    report = engine.ingest(progress=False)
    assert report.papers == 16 and report.papers_updated == 16
    assert len(engine.catalog) == 16 and engine.search(QUESTIONS[0], k=1).hits
    assert len(list((data / "generations").iterdir())) == 1


def test_second_ingest_waits_for_the_lock_or_refuses_naming_the_holder(
    tmp_path: Path, small_corpus: Path, embedder: Embedder
) -> None:
    data = tmp_path / "data"
    quick = Engine(make_settings(data, corpus_dir=small_corpus, ingest={"lock_timeout_s": 0.5}), embedder=embedder)
    with DataDirLock(data, 0), pytest.raises(IngestLockedError, match=f"pid {os.getpid()}"):
        quick.ingest(progress=False)
    assert not (data / "generations").exists()  # nothing was written while refused

    patient = Engine(make_settings(data, corpus_dir=small_corpus, ingest={"lock_timeout_s": 60}), embedder=embedder)
    holder = DataDirLock(data, 0).__enter__()
    release = threading.Timer(1.5, holder.__exit__, args=(None, None, None))
    release.start()
    t0 = time.monotonic()
    report = patient.ingest(progress=False)
    assert time.monotonic() - t0 >= 1.4 and report.papers == 16


def test_two_ingest_processes_at_once_never_corrupt(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "RAG_INGEST__LOCK_TIMEOUT_S": "600"}
    env.pop("RAG_TEST_KILL_AT", None)
    cmd = [sys.executable, "-m", "rag.cli", "ingest", "--data-dir", str(data), "--corpus", str(small_corpus), "--quiet"]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in "ab"]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-1000:] for o in outs]
    assert sum("16 added/updated" in o[0] for o in outs) == 1  # one built it, the other found it up to date
    engine = Engine(make_settings(data, corpus_dir=small_corpus), embedder=embedder)
    chunk_papers = {m["paper_id"] for m in engine.index.collection().get(include=["metadatas"])["metadatas"]}
    assert len(engine.catalog) == 16 and chunk_papers == {p.paper_id for p in engine.catalog.papers}


# -- one bad record never stops the ingest --------------------------------------------------------------
def _write_page(corpus: Path, name: str, records: list[dict[str, Any]]) -> None:
    """A daily-papers page (title line, abstract line, blank line per paper) added to the manifest."""
    manifest = json.loads((corpus / "manifest.json").read_text())
    lines = ["Daily Papers", ""]
    for r in records:
        lines += [r["title"], r["abstract"], ""]
    (corpus / name).write_text("\n".join(lines))
    manifest["pages"].append({"file": name, "format": "daily-papers"})
    (corpus / "manifest.json").write_text(json.dumps(manifest))


JAPANESE_ABSTRACT = (
    "We study length generalization of language models trained on Japanese text. "
    "Models trained on short sequences often fail on longer ones at test time. "
    "We introduce a positional scheme that extrapolates to sequences eight times longer than those seen in training. "
    "Experiments on three Japanese benchmarks show consistent gains over rotary embeddings. "
    "We release code and data."
)


def test_long_metadata_is_trimmed_and_oversized_records_skipped(
    tmp_path: Path, small_corpus: Path, embedder: Embedder
) -> None:
    from rag.catalog import build_catalog
    from rag.index import paper_document
    from rag.tokens import count_tokens

    papers, _ = build_catalog(small_corpus)
    p = papers[0].model_copy(update={"authors": [f"Author Number{i} Surname{i}" for i in range(40)]})
    p.title = "大規模言語モデルの長さ汎化に関する研究" * 9  # a 177-character CJK title
    doc = paper_document(p, max_metadata_tokens=110)
    from llama_index.core.schema import MetadataMode

    assert count_tokens(doc.get_metadata_str(MetadataMode.LLM)) <= 110 and doc.metadata["trimmed"]
    assert doc.metadata["authors"].endswith("et al.")

    settings = make_settings(tmp_path / "data", corpus_dir=small_corpus, ingest={"max_abstract_chars": 3000})
    engine = Engine(settings, embedder=embedder)
    base = engine.ingest(progress=False).papers
    long_title = "大規模言語モデルの長さ汎化に関する研究" * 9
    _write_page(
        small_corpus,
        "900_extra.txt",
        [
            {"title": long_title, "abstract": JAPANESE_ABSTRACT},
            {"title": "A Gigantic Abstract", "abstract": "Padding sentence that repeats. " * 400},
        ],
    )
    report = engine.ingest(progress=False)
    assert report.papers == base + 1 and report.skipped == 1
    assert any("A Gigantic Abstract" in n and "limit" in n for n in report.notes)
    hit = engine.search("length generalization of language models trained on Japanese text", k=1).hits[0]
    assert hit.title == long_title and hit.evidence  # chunked and embedded despite its metadata
    assert any("shortened metadata" in n for n in report.notes)


def test_a_source_that_suddenly_yields_nothing_is_refused(
    tmp_path: Path, small_corpus: Path, embedder: Embedder
) -> None:
    settings = make_settings(tmp_path / "data", corpus_dir=small_corpus)
    engine = Engine(settings, embedder=embedder)
    engine.ingest(progress=False)
    before = answers(engine)
    profile = next(small_corpus.glob("000_*.txt"))
    profile.write_text("nothing that parses as a paper\n")
    with pytest.raises(UserError, match=r"refusing to apply this ingest: 000_.*yielded no papers"):
        engine.ingest(progress=False)
    assert answers(Engine(settings, embedder=embedder)) == before


def test_an_index_with_zero_papers_says_so(tmp_path: Path, embedder: Embedder) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "manifest.json").write_text(json.dumps({"pages": []}))
    engine = Engine(make_settings(tmp_path / "d0", corpus_dir=empty), embedder=embedder)
    # A corpus with no paper is refused outright (rag ingest exits 2), and nothing is left to search.
    with pytest.raises(UserError, match="nothing could be ingested"):
        engine.ingest(progress=False)
    with pytest.raises(UserError, match="rag ingest"):
        engine.search("diffusion")


def test_a_read_only_index_can_be_searched(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    data = tmp_path / "ro"
    settings = make_settings(data, corpus_dir=small_corpus)
    Engine(settings, embedder=embedder).ingest(progress=False)
    expected = [h.paper_id for h in Engine(settings, embedder=embedder).search(QUESTIONS[0]).hits]
    cmd = [sys.executable, "-m", "rag.cli", "search", "--json", "--data-dir", str(data), QUESTIONS[0]]
    if os.geteuid() == 0:  # root ignores file modes: drop the capabilities that let it
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", *cmd]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("OPENAI_BASE_URL", None)
    paths = [data, *data.rglob("*")]
    try:
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        probe = subprocess.run([*cmd[: cmd.index(sys.executable)], "touch", str(data / "probe")], capture_output=True)
        assert probe.returncode != 0  # the data dir really is read-only for the search process
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert [h["paper_id"] for h in json.loads(proc.stdout)["hits"]] == expected
    finally:
        for p in paths:
            p.chmod(0o755 if p.is_dir() else 0o644)


def test_an_interrupted_ingest_resumes_its_embedding(tmp_path: Path, small_corpus: Path, embedder: Embedder) -> None:
    """Killed after its first journalled batch, the next ingest embeds only what is left, and the index it builds
    answers exactly as one built in a single run; a finished ingest leaves no journal behind."""
    data = tmp_path / "data"
    proc = run_ingest(data, small_corpus, kill_at="during_embed", RAG_EMBEDDING__BATCH_SIZE="16")
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert list((data / "resume").glob("vectors-*.sqlite"))  # the first batch was kept

    proc = run_ingest(data, small_corpus, RAG_EMBEDDING__BATCH_SIZE="16")
    assert proc.returncode == 0, proc.stderr[-2000:]
    resumed = re.search(r"(\d+) vectors resumed from an interrupted ingest", proc.stdout)
    assert resumed and int(resumed.group(1)) == 16, proc.stdout
    assert not list((data / "resume").glob("vectors-*"))

    whole = tmp_path / "whole"
    assert run_ingest(whole, small_corpus).returncode == 0
    settings = make_settings(data, corpus_dir=small_corpus)
    assert answers(Engine(settings, embedder=embedder)) == answers(
        Engine(make_settings(whole, corpus_dir=small_corpus), embedder=embedder)
    )
