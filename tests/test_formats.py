"""Bring-your-own corpus: each format through `rag ingest --corpus FILE`, detection from content, and every
kind of malformed input reported with file:line while the rest is ingested."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

import rag.cli
from rag.catalog import Catalog, build_catalog
from rag.corpus import detect_format, discover
from rag.embed import Embedder
from rag.engine import Engine
from rag.index import Generations
from rag.parse import CorpusError
from rag.settings import CorpusSettings
from tests.conftest import CORPUS, make_settings

DATA = Path(__file__).resolve().parent / "data" / "formats"
SNAPSHOT, JSONL, CSV, BIB = (DATA / n for n in ("arxiv_snapshot.jsonl", "papers_jsonl.txt", "papers.csv", "zotero.bib"))
ABSTRACT = (
    "We investigate the theoretical foundations of classifier-free guidance (CFG). CFG is the dominant method of "
    "conditional sampling for text-to-image diffusion models, yet unlike other aspects of diffusion, it remains on "
    "shaky theoretical footing. In this paper, we disprove common misconceptions."
)


@pytest.fixture()
def cli(monkeypatch: pytest.MonkeyPatch, embedder: Embedder, tmp_path: Path) -> Any:
    """`rag ...` in process, on a temp data dir, with the session's (real) MiniLM embedder loaded once."""
    monkeypatch.setattr(rag.cli, "_engine", lambda args: Engine(rag.cli._settings(args), embedder=embedder))
    data = tmp_path / "data"

    def run(*argv: str) -> int:
        return rag.cli.main([*argv, "--data-dir", str(data)])

    def catalog() -> dict[str, Any]:  # the answering generation's catalog
        current = Generations(data).current()
        assert current is not None, "no index was built"
        return {p.title: p for p in Catalog.load(current.catalog_path).papers}

    run.catalog = catalog  # type: ignore[attr-defined]
    return run


def snapshot_line(**fields: Any) -> str:
    base = {"id": "2401.00001", "title": "T", "abstract": ABSTRACT, "authors": "A B", "categories": "cs.LG",
            "versions": [{"version": "v1", "created": "Mon, 1 Jan 2024 10:00:00 GMT"}], "update_date": "2024-02-01",
            "authors_parsed": [["B", "A", ""]]}  # fmt: skip
    return json.dumps(base | fields)


# -- each format through `rag ingest --corpus FILE` ------------------------------------------------------------
def test_ingest_arxiv_snapshot(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("ingest", "--corpus", str(SNAPSHOT), "--quiet") == 0
    out = capsys.readouterr().out
    assert "source arxiv_snapshot.jsonl: arxiv-snapshot, 4 read, 3 skipped" in out
    assert "arxiv_snapshot.jsonl:3: skipped: malformed JSON" in out
    assert "arxiv_snapshot.jsonl:4: skipped: record without an abstract (id 2405.00004" in out
    assert "arxiv_snapshot.jsonl:7: skipped: malformed JSON" in out  # the truncated last record
    assert "arxiv_snapshot.jsonl:5: skipped: duplicate arXiv:2404.01234 of arxiv_snapshot.jsonl:1" in out
    papers = cli.catalog()
    assert len(papers) == 3
    p = next(p for p in papers.values() if p.arxiv_id == "2404.01234")
    assert "\n" not in p.title and p.title.startswith("Synergistic Integration of Large Language Models")
    assert p.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky"]  # authors_parsed, not the LaTeX string
    assert (p.category, p.categories) == ("cs.LG", ["cs.LG", "stat.ML"])
    assert (p.date, p.year) == ("2024-04-02", 2024)  # the first version's date, not update_date
    assert p.journal_ref == "NeurIPS 2024" and p.doi == "10.48550/arxiv.2404.01234"
    assert p.comments == ["10 pages, 4 figures; accepted to NeurIPS 2024"]
    assert [(s.file, s.line, s.page) for s in p.provenance] == [("arxiv_snapshot.jsonl", 1, "arxiv-snapshot")]
    old = next(p for p in papers.values() if p.arxiv_id == "hep-th/9901001")
    assert old.date == "1999-01-05"  # no version date: update_date


def test_ingest_generic_jsonl(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("ingest", "--corpus", str(JSONL), "--quiet") == 0
    out = capsys.readouterr().out
    for expected in ("papers_jsonl.txt:4: skipped: a JSON list, not an object",
                     "papers_jsonl.txt:5: skipped: record without an abstract ('No abstract here')",
                     "papers_jsonl.txt:6: skipped: malformed JSON"):  # fmt: skip
        assert expected in out
    a, b = cli.catalog().values()
    assert a.authors == ["Grace Hopper", "Alan Turing"] and a.year == 2021 and a.doi == "10.1000/xyz123"
    assert a.extra == {"tags": '["rl", "theory"]'}  # other keys kept as metadata
    assert b.authors == ["Grace Hopper", "Alan Turing"] and b.journal_ref == "ICML 2022"
    assert b.extra == {"url": "https://example.org/p6"} and b.provenance[0].line == 3


def test_ingest_csv(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("ingest", "--corpus", str(CSV), "--quiet") == 0
    out = capsys.readouterr().out
    assert "papers.csv:5: skipped: 3 columns, the header has 6" in out
    assert "papers.csv:6: skipped: record without an abstract ('Missing abstract')" in out
    a, b = cli.catalog().values()
    assert a.provenance[0].line == 2 and "\n" not in a.abstract  # a quoted abstract spanning two lines
    assert a.authors == ["Grace Hopper", "Alan Turing"] and a.year == 2020 and a.doi == "10.1000/abc"
    assert a.extra == {"Item Type": "journalArticle"}
    assert b.provenance[0].line == 4 and b.authors == ["A. Author", "B. Author"]


def test_ingest_bibtex(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("ingest", "--corpus", str(BIB), "--quiet") == 0
    out = capsys.readouterr().out
    assert "zotero.bib:26: skipped: @misc without an abstract ('A Paper Without Its Abstract')" in out
    assert "zotero.bib:32: skipped: entry with unbalanced braces" in out
    papers = cli.catalog()
    a = papers["Algorithmic Collective Action in Machine Learning"]  # {{double braces}} gone
    assert a.authors == ["Kurt Gödel", "Pál Erdős", "Jörg Müller"]  # LaTeX accents decoded
    assert (a.date, a.year, a.doi) == ("2023-03", 2023, "10.1000/j.jmlr.2023.001")
    assert a.journal_ref == "Journal of Machine Learning Research" and "\\%" not in a.abstract
    assert a.extra["keywords"] == "transformers, theory" and "file" not in a.extra
    b = next(p for p in papers.values() if p.arxiv_id)
    assert b.arxiv_id == "2402.01234" and b.authors == ["José García", "Ayşe Çelik"] and b.category == "cs.LG"
    assert b.journal_ref == "Proceedings of the 41st International Conference on Machine Learning (ICML)"
    c = next(p for p in papers.values() if p.provenance[0].line == 36)
    assert c.authors == ["Jane Smith"] and c.year == 2020


def test_format_override_that_reads_nothing_exits_non_zero(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("ingest", "--corpus", str(JSONL), "--format", "bibtex", "--quiet") == 2
    err = capsys.readouterr().err
    assert "nothing could be ingested" in err and "NO papers read as 'bibtex'" in err and "looks like 'jsonl'" in err


# -- detection from content ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "fmt"),
    [(SNAPSHOT, "arxiv-snapshot"), (JSONL, "jsonl"), (CSV, "csv"), (BIB, "bibtex"),
     *[(next(CORPUS.glob(f"{n}_*.txt")), f) for n, f in [("000", "profile"), ("001", "abstract-list"),
       ("002", "arxiv-listing"), ("003", "daily-papers"), ("004", "title-list")]]],
)  # fmt: skip
def test_format_is_detected_from_content_not_name(path: Path, fmt: str, tmp_path: Path) -> None:
    disguised = tmp_path / "no_extension"
    shutil.copy(path, disguised)
    assert detect_format(disguised) == fmt


def test_tsv_and_semicolon_tables_are_csv(tmp_path: Path) -> None:
    for delim in "\t;":
        f = tmp_path / "t.txt"
        f.write_text(f"title{delim}ABSTRACT{delim}authors\nA title{delim}{ABSTRACT}{delim}X Y and Z W\n")
        assert detect_format(f) == "csv"
        (p,), report = build_catalog(f)
        assert p.title == "A title" and p.authors == ["X Y", "Z W"] and report.problems == []


# -- several sources, one catalog ----------------------------------------------------------------------------
def test_folder_without_manifest_merges_formats_with_provenance(tmp_path: Path) -> None:
    shutil.copy(next(CORPUS.glob("004_*.txt")), tmp_path / "page.txt")
    shutil.copy(SNAPSHOT, tmp_path / "snap.jsonl")
    (tmp_path / "sub").mkdir()
    shutil.copy(BIB, tmp_path / "sub" / "refs.bib")
    papers, report = build_catalog(tmp_path)
    assert [(s.name, s.format) for s in report.sources] == [
        ("page.txt", "title-list"), ("snap.jsonl", "arxiv-snapshot"), ("sub/refs.bib", "bibtex")]  # fmt: skip
    # the snapshot's first paper is also on the title-list page: one paper, both copies, fields from each
    (p,) = [p for p in papers if p.arxiv_id == "2404.01234"]
    assert {(s.file, s.page) for s in p.provenance} == {("page.txt", "title-list"), ("snap.jsonl", "arxiv-snapshot")}
    assert p.categories == ["cs.LG", "stat.ML"] and p.authors[0] == "C. Balázs"
    assert len(papers) == 450  # every sample abstract was taken from the title-list page: all merged into it
    # the snapshot's duplicate id (line 5) is dropped, but the page's own copy of that abstract stays a paper
    assert (
        "snap.jsonl:5: skipped: duplicate arXiv:2404.01234 of page.txt:3 with a different abstract; the first "
        "one is kept" in [str(p) for p in report.problems]
    )
    assert len({p.paper_id for p in papers}) == len(papers)


# -- malformed input: reported with file:line, the rest ingested ---------------------------------------------
def good_jsonl(path: Path) -> Path:
    path.write_text(json.dumps({"title": "Good", "abstract": ABSTRACT}) + "\n")
    return path


def problems_of(path: Path, **settings: Any) -> tuple[list[Any], list[str]]:
    papers, report = build_catalog(path, CorpusSettings(**settings))
    return papers, [str(p) for p in report.problems]


def test_binary_and_empty_files_are_reported_not_fatal(tmp_path: Path) -> None:
    good_jsonl(tmp_path / "a.jsonl")
    (tmp_path / "b.pdf").write_bytes(b"%PDF-1.7\n\x00\x01\x02binary\xff")
    (tmp_path / "c.txt").write_bytes(b"")
    (tmp_path / "d.csv").write_bytes(b"\n  \n")
    papers, problems = problems_of(tmp_path)
    assert [p.title for p in papers] == ["Good"]
    assert "b.pdf: skipped: binary file (NUL bytes), not text" in problems
    assert "c.txt: skipped: empty file" in problems and "d.csv: skipped: empty file" in problems


def test_binary_file_declared_in_manifest_is_reported(tmp_path: Path) -> None:
    good_jsonl(tmp_path / "a.jsonl")
    (tmp_path / "b.bin").write_bytes(b"\x00" * 100 + b"{}")
    manifest = {"pages": [{"file": "a.jsonl", "format": "jsonl"}, {"file": "b.bin", "format": "jsonl"}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    papers, problems = problems_of(tmp_path)
    assert len(papers) == 1 and "b.bin:1: skipped: binary file (NUL bytes), not text" in problems


def test_non_utf8_file_is_decoded_with_a_note(tmp_path: Path) -> None:
    f = tmp_path / "latin.csv"
    f.write_bytes(b"title,abstract\n" + "Résumé of Müller's work,".encode("cp1252") + f'"{ABSTRACT}"\n'.encode())
    (p,), problems = problems_of(f)
    assert p.title == "Résumé of Müller's work"
    assert problems == ["latin.csv:2: not UTF-8 from this line on: read as cp1252/Latin-1"]


def test_one_huge_line_is_skipped_at_the_record_limit(tmp_path: Path) -> None:
    f = tmp_path / "big.jsonl"
    huge = '{"title": "Huge", "abstract": "' + "x" * 50_000_000 + '"}\n'  # a single 50 MB line
    with f.open("w") as out:
        out.write(json.dumps({"title": "Before", "abstract": ABSTRACT}) + "\n")
        out.write(huge)
        out.write(json.dumps({"title": "After", "abstract": ABSTRACT + " Again."}) + "\n")
    papers, problems = problems_of(f, max_record_bytes=100_000)
    assert [p.title for p in papers] == ["Before", "After"]
    assert [p.provenance[0].line for p in papers] == [1, 3]
    assert problems == [f"big.jsonl:2: skipped: line of {len(huge):,} bytes exceeds the record limit of 100,000 "
                        "(corpus.max_record_bytes)"]  # fmt: skip


def test_huge_bibtex_entry_and_unclosed_csv_quote_are_bounded(tmp_path: Path) -> None:
    bib = tmp_path / "a.bib"
    body = "\n".join(["word " * 200] * 300)  # ~300 KB over many lines: no single line is long
    bib.write_text(
        f"@article{{k1,\n abstract = {{{body}}},\n}}\n@article{{k2,\n title={{Ok}},\n abstract={{{ABSTRACT}}}\n}}\n"
    )
    papers, problems = problems_of(bib, max_record_bytes=100_000)
    assert [p.title for p in papers] == ["Ok"] and problems == [
        "a.bib:1: skipped: entry longer than 100,000 characters"
    ]
    csv_file = tmp_path / "b.csv"
    rows = [f"T{i},Row {i} of a table" for i in range(3, 2003)]
    csv_file.write_text("title,abstract\n" + '"Open, never closed\n' + "\n".join(rows) + "\n")
    papers, problems = problems_of(csv_file, max_record_bytes=10_000)
    assert problems == ["b.csv:2: skipped: record longer than 10,000 characters (an unclosed quote?); reading on "
                        "from the next line"]  # fmt: skip
    assert len(papers) > 1500 and all(p.title == f"T{p.provenance[0].line}" for p in papers)  # resumed, lines right


def test_manifest_problems_are_each_reported(tmp_path: Path) -> None:
    good_jsonl(tmp_path / "a.jsonl")
    (tmp_path / "unlisted.jsonl").write_text(json.dumps({"title": "U", "abstract": ABSTRACT + " U"}) + "\n")
    (tmp_path / "odd.txt").write_text("hello\n")
    outside = tmp_path.parent / "secret.jsonl"
    good_jsonl(outside)
    manifest = {"pages": [
        {"file": "a.jsonl", "format": "jsonl"},
        {"file": "odd.txt", "format": "nonsense"},
        {"file": "../secret.jsonl", "format": "jsonl"},
        {"file": "gone.jsonl", "format": "jsonl"},
    ]}  # fmt: skip
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    papers, problems = problems_of(tmp_path)
    assert [p.title for p in papers] == ["Good"]
    assert any(p.startswith("odd.txt: skipped: manifest.json entry 2 has unknown format 'nonsense'") for p in problems)
    assert any(p.startswith("../secret.jsonl: refused: manifest.json entry 3 points outside") for p in problems)
    assert "gone.jsonl: skipped: listed in manifest.json but not in " + str(tmp_path) in problems
    assert "unlisted.jsonl: skipped: not listed in manifest.json (add it, with its format)" in problems


def test_unrecognised_file_in_a_folder_is_reported(tmp_path: Path) -> None:
    good_jsonl(tmp_path / "a.jsonl")
    (tmp_path / "notes.md").write_text("# my notes\nnothing like a paper\n")
    _, problems = problems_of(tmp_path)
    assert problems[0].startswith("notes.md: skipped: format not recognised from the content")


def test_duplicate_arxiv_id_and_doi_keep_one_and_report(tmp_path: Path) -> None:
    other = "An entirely different abstract about protein folding with graph networks and many experiments."
    f = tmp_path / "s.jsonl"
    f.write_text("\n".join([
        snapshot_line(),
        snapshot_line(abstract=other, title="Other"),  # same id, different abstract: cannot be merged
        snapshot_line(abstract=other, title="Other"),  # and a third copy
        snapshot_line(id="2401.00009", doi="10.1000/X", abstract=ABSTRACT[::-1], title="D1"),
        snapshot_line(id="2401.00010", doi="10.1000/x", abstract=other[::-1], title="D2"),  # same DOI (any case)
    ]) + "\n")  # fmt: skip
    papers, problems = problems_of(f)
    assert [p.title for p in papers] == ["T", "D1"]
    assert problems == [
        "s.jsonl:2: skipped: duplicate arXiv:2401.00001 of s.jsonl:1 with a different abstract; the first one is kept",
        "s.jsonl:3: skipped: duplicate arXiv:2401.00001 of s.jsonl:1 with a different abstract; the first one is kept",
        "s.jsonl:5: skipped: duplicate DOI 10.1000/x of s.jsonl:4 with a different abstract; the first one is kept",
    ]


def test_identical_records_in_one_file_get_distinct_ids(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text((json.dumps({"title": "Same", "abstract": ABSTRACT}) + "\n") * 3)
    papers, _ = problems_of(f)
    assert len({p.paper_id for p in papers}) == 3  # never a DuplicateIDError downstream


def test_wrong_declared_format_is_loud_and_flags_the_lost_source(tmp_path: Path) -> None:
    good_jsonl(tmp_path / "a.jsonl")
    shutil.copy(BIB, tmp_path / "refs.bib")
    pages = [{"file": "a.jsonl", "format": "jsonl"}, {"file": "refs.bib", "format": "bibtex"}]
    (tmp_path / "manifest.json").write_text(json.dumps({"pages": pages}))
    papers, report = build_catalog(tmp_path)
    previous = {s.file for p in papers for s in p.provenance}
    assert previous == {"a.jsonl", "refs.bib"} and report.lost_sources(previous) == []
    pages[1]["format"] = "profile"  # declared wrong
    (tmp_path / "manifest.json").write_text(json.dumps({"pages": pages}))
    papers, report = build_catalog(tmp_path)
    assert len(papers) == 1
    assert any(str(p).startswith("refs.bib: skipped: NO papers read as 'profile'") and "looks like 'bibtex'" in str(p)
               for p in report.problems)  # fmt: skip
    assert report.empty_sources == ["refs.bib"] and report.lost_sources(previous) == ["refs.bib"]


def test_zero_papers_anywhere_is_an_error_naming_the_problems(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"title": "x"}\n{broken\n')
    with pytest.raises(
        CorpusError, match=r"nothing could be ingested.*a\.jsonl:1: skipped: record without an abstract"
    ):
        build_catalog(tmp_path)
    with pytest.raises(CorpusError, match="no such file or folder"):
        build_catalog(tmp_path / "nope")
    with pytest.raises(CorpusError, match="unknown format 'xml'"):
        discover(tmp_path, "xml")


def test_zero_paper_corpus_exits_2_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    settings = make_settings(tmp_path / "data")
    code = rag.cli.main(["ingest", "--corpus", str(tmp_path), "--data-dir", str(settings.data_dir), "--quiet"])
    assert code == 2 and "empty.jsonl: skipped: empty file" in capsys.readouterr().err
