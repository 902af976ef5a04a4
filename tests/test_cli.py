"""The `rag` command as users and scripts run it: the JSON contract, batch mode, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rag.engine import Engine

ROOT = Path(__file__).resolve().parent.parent


def rag(*args: str, data_dir: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env_cmd = [sys.executable, "-m", "rag.cli", *args, "--data-dir", str(data_dir)]
    return subprocess.run(env_cmd, input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "HOME": str(data_dir)})  # fmt: skip


ASK_KEYS = {"question", "answer", "refused", "mode", "citations", "timings_ms"}
CITATION_KEYS = {"n", "paper_id", "title", "arxiv_id", "authors", "url", "abstract", "snippet", "score"}
HIT_KEYS = {"rank", "paper_id", "title", "arxiv_id", "authors", "abstract", "score"}


def test_batch_ask_and_search_contract(built_engine: Engine, tmp_path: Path) -> None:
    data = built_engine.settings.data_dir
    batch = tmp_path / "q.jsonl"
    lines = [
        {"question": "what is the arXiv id of the classifier-free guidance predictor-corrector paper?"},
        "not json",
        {"question": "who wrote it?", "history": [
            {"role": "user", "content": "a paper on trace length as an uncertainty signal?"},
            {"role": "assistant", "content": "Trace Length is a Simple Uncertainty Signal in Reasoning Models [1]"}]},
        {"question": "how do I bake sourdough bread?"},
        {"question": ""},
    ]  # fmt: skip
    batch.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    out = rag("ask", "--batch", str(batch), data_dir=data)
    assert "Traceback" not in out.stderr
    objs = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(objs) == 5 and out.returncode == 1  # every line answered in order; failures flagged
    first, bad, followup, refused, empty = objs
    assert ASK_KEYS <= set(first) and first["mode"] == "extractive" and not first["refused"]
    assert CITATION_KEYS <= set(first["citations"][0]) and "2408.09000" in first["answer"]
    assert bad["line"] == 2 and "q.jsonl:2" in bad["error"]
    assert "Siddartha Devic" in followup["answer"]
    assert refused["refused"] and refused["citations"] == []
    assert "empty" in empty["error"]

    out = rag("search", "--json", "--k", "3", "length generalization", data_dir=data)
    result = json.loads(out.stdout)
    assert result["question"] == "length generalization" and len(result["hits"]) == 3
    assert HIT_KEYS <= set(result["hits"][0])


def test_filters_and_catalog_from_the_command_line(built_engine: Engine) -> None:
    data = built_engine.settings.data_dir
    out = rag("search", "--json", "--author", "Arwen Bradley", "--year", "2025", "diffusion", data_dir=data)
    hits = json.loads(out.stdout)["hits"]
    assert hits and all("Arwen Bradley" in h["authors"] for h in hits)
    out = rag("catalog", "--json", data_dir=data)
    papers = json.loads(out.stdout)
    assert len(papers) == 527 and {"provenance", "title_derived", "authors_truncated"} <= set(papers[0])


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    out = rag("ask", "anything", data_dir=tmp_path / "none")
    assert out.returncode == 2 and "rag ingest" in out.stderr and "Traceback" not in out.stderr
    out = rag("search", "--year", "20x5", "q", data_dir=tmp_path / "none")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    bad_corpus = tmp_path / "corpus"
    bad_corpus.mkdir()
    (bad_corpus / "page.txt").write_bytes(b"garbage \xff\xfe\n")
    out = rag("ingest", "--corpus", str(bad_corpus), data_dir=tmp_path / "none")
    assert out.returncode == 2 and "manifest.json: missing" in out.stderr and "unexpected" not in out.stderr


def test_streamed_answers_print_their_text_refusals_included(built_engine: Engine) -> None:
    data = built_engine.settings.data_dir
    out = rag("ask", "what is a good recipe for sourdough bread?", data_dir=data)
    assert out.returncode == 0
    text, _, sources = out.stdout.partition("Related reading:")
    assert "does not appear to answer" in text and "[1]" in sources
    out = rag("ask", "what is the arXiv id of the TarFlow paper?", data_dir=data)
    assert "2412.06329 (https://arxiv.org/abs/2412.06329) [1]" in out.stdout.split("Sources:")[0]
