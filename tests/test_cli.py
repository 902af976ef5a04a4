"""The `rag` command as users and scripts run it: the JSON contract, batch mode, clear errors."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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
    assert 'No paper in the corpus mentions "sourdough"' in text and "Missing: sourdough" in text and "[1]" in sources
    out = rag("ask", "what is the arXiv id of the TarFlow paper?", data_dir=data)
    assert "2412.06329 (https://arxiv.org/abs/2412.06329) [1]" in out.stdout.split("Sources:")[0]


# -- bounds, batch robustness, disk and permissions (issue 15) ----------------------------------------------


def test_k_out_of_bounds_is_exit_2_naming_the_bound(built_engine: Engine) -> None:
    data = built_engine.settings.data_dir
    for k in ("-1", "0", "100000"):
        out = rag("search", "--k", k, "length generalization", data_dir=data)
        assert out.returncode == 2 and out.stdout == "", (k, out.stdout)
        assert "limits.k_max" in out.stderr and f"not {k}" in out.stderr and "Traceback" not in out.stderr


def test_batch_reports_bad_lines_and_answers_the_rest(built_engine: Engine, tmp_path: Path) -> None:
    batch = tmp_path / "q.jsonl"
    long_question = "why " * 25_000  # 100,000 characters
    batch.write_bytes(
        b'{"question": "length generalization", "history": 5}\n'
        + b'{"question": "caf\xe9 latin-1"}\n'
        + json.dumps({"question": long_question}).encode()
        + b"\n"
        + b"x" * 600_000  # one line over limits.body_bytes, never parsed
        + b"\n"
        + b'{"question": "length generalization in transformers"}\n'
    )
    out = rag("search", "--batch", str(batch), data_dir=built_engine.settings.data_dir)
    assert "Traceback" not in out.stderr and out.returncode == 1
    objs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [o.get("line") for o in objs[:4]] == [1, 2, 3, 4]
    assert '"history" must be a list' in objs[0]["error"]
    assert "q.jsonl:2: not UTF-8" in objs[1]["error"]
    assert "answer.max_question_chars" in objs[2]["error"]
    assert len(objs[2]["question"]) < 300 and "100000 characters" in objs[2]["question"]
    assert "limits.body_bytes" in objs[3]["error"] and len(out.stdout.splitlines()[3]) < 500
    assert objs[4]["hits"]  # the line after the bad ones is still answered


def test_catalog_of_a_data_dir_without_index_says_so(tmp_path: Path) -> None:
    out = rag("catalog", data_dir=tmp_path / "empty")
    assert out.returncode == 2 and "no index in" in out.stderr and "papers" not in out.stdout


def test_a_data_dir_that_is_a_file_is_one_clear_line(tmp_path: Path) -> None:
    afile = tmp_path / "data"
    afile.write_text("not a folder")
    for args in (("search", "q"), ("ingest", "--quiet"), ("catalog",)):
        out = rag(*args, data_dir=afile)
        assert out.returncode == 2 and "is a file, not a folder" in out.stderr, out.stderr
        assert "unexpected" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("exc", "says"),
    [
        (OSError(errno.ENOSPC, "No space left on device", "/data/chroma/x.bin"), "the disk is full"),
        (PermissionError(errno.EACCES, "Permission denied", "/data/catalog.json"), "permission denied"),
        (OSError(errno.EROFS, "Read-only file system", "/data"), "read-only"),
        (RuntimeError("attempt to write a readonly database"), "cannot be written"),
    ],
)
def test_disk_and_permission_failures_are_one_line_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: Exception, says: str
) -> None:
    # As root, chmod cannot deny anything, so the failure is raised where the index is written.
    from rag.cli import main
    from rag.engine import Engine as EngineClass

    def fail(*_: Any, **__: Any) -> Any:
        raise exc

    monkeypatch.setattr(EngineClass, "ingest", fail)
    code = main(["ingest", "--quiet", "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2 and says in err and "unexpected" not in err and len(err.strip().splitlines()) == 1


def test_ui_binds_loopback_unless_told(built_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.app
    from rag.cli import main

    bound: list[tuple[str, int]] = []
    monkeypatch.setattr(ui.app, "serve", lambda engine, host, port: bound.append((host, port)))
    data = str(built_engine.settings.data_dir)
    assert main(["ui", "--data-dir", data]) == 0
    monkeypatch.setenv("RAG_SERVER__HOST", "0.0.0.0")
    assert main(["ui", "--data-dir", data, "--port", "9999"]) == 0
    assert main(["ui", "--data-dir", data, "--host", "127.0.0.1"]) == 0
    assert bound == [("127.0.0.1", 7860), ("0.0.0.0", 9999), ("127.0.0.1", 7860)]
