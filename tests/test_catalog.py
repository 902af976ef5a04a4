"""The clean catalog of the real corpus: 527 papers, cross-page merges right, nothing invented."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag import catalog as catalog_module
from rag.catalog import Catalog, CatalogReport, build_catalog, iter_catalog, merge_records
from rag.models import Record, Source
from rag.parse import CorpusError
from rag.text import fold

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


@pytest.fixture(scope="module")
def catalog() -> tuple[list, CatalogReport]:
    return build_catalog(CORPUS)


def by_title(papers: list, start: str):
    (p,) = [p for p in papers if p.title.startswith(start)]
    return p


def test_paper_count_and_merges(catalog) -> None:
    papers, report = catalog
    assert len(papers) == 527
    assert report.records == 546 and len(report.merges) == 16
    assert len({p.paper_id for p in papers}) == 527


def test_merged_paper_carries_every_field_and_its_provenance(catalog) -> None:
    papers, _ = catalog
    cfg = by_title(papers, "Classifier-Free Guidance is a Predictor-Corrector")
    assert cfg.arxiv_id == "2408.09000"  # from the arXiv listing
    assert cfg.authors == ["Arwen Bradley", "Preetum Nakkiran"] and not cfg.authors_truncated  # from the profile
    assert cfg.comments == ["AB and PN contributed equally"]
    assert {s.page for s in cfg.provenance} == {"profile", "abstract-list", "arxiv-listing"}
    assert cfg.date == "2024-08-16" and cfg.year == 2024
    vanishing = by_title(papers, "Vanishing Gradients in Reinforcement Finetuning")
    assert {s.page for s in vanishing.provenance} == {"profile", "abstract-list", "title-list"}
    assert vanishing.authors_truncated and "Omid Saremi" in vanishing.authors


def test_untitled_papers_get_an_honest_derived_title_and_keep_their_id(catalog) -> None:
    papers, _ = catalog
    derived = [p for p in papers if p.title_derived]
    assert len(derived) == 7
    jepa = next(p for p in derived if p.abstract.startswith("Two competing paradigms"))
    assert jepa.arxiv_id == "2407.03475"
    assert jepa.abstract.lower().startswith(jepa.title.rstrip("…").lower())
    assert all(p.authors == [] for p in derived)  # nothing invented


def test_no_year_is_guessed(catalog) -> None:
    papers, _ = catalog
    annotations = by_title(papers, "Annotations Mitigate Post-Training Mode Collapse")
    assert annotations.date is None and annotations.year is None and annotations.date_text == "May 11"


def test_different_papers_with_similar_text_are_not_merged() -> None:
    base = "We study length generalization of transformers on arithmetic tasks and find strong effects. " * 4
    a = Record(abstract=base, title="Paper A about arithmetic", source=Source(file="a", line=1, page="x"))
    b = Record(abstract=base, title="A completely different title", source=Source(file="b", line=1, page="y"))
    c = Record(abstract=base + " Extra.", arxiv_id="2401.00001", source=Source(file="c", line=1, page="z"))
    d = Record(abstract=base, arxiv_id="2401.00002", source=Source(file="d", line=1, page="w"))
    report = CatalogReport()
    papers = merge_records([a, b, c, d], report)
    # a~c and b~d could merge pairwise, but a and b never together (titles differ), c and d never (ids differ)
    groups = [{s.file for s in p.provenance} for p in papers]
    assert not any({"a", "b"} <= g or {"c", "d"} <= g for g in groups)
    assert report.near_misses  # and it says why


def test_changed_last_sentence_still_merges() -> None:
    text = "Diffusion models may be formulated as a time-indexed sequence of energy-based models. " * 5
    a = Record(abstract=text + "We release code.", title="T", source=Source(file="a", line=1, page="p"))
    b = Record(abstract=text + "Results improve sampling quality on all benchmarks.", arxiv_id="2502.12786",
               source=Source(file="b", line=3, page="q"))  # fmt: skip
    papers = merge_records([a, b], CatalogReport())
    assert len(papers) == 1 and papers[0].title == "T" and papers[0].arxiv_id == "2502.12786"


def test_candidate_pairs_found_a_part_and_a_buffer_at_a_time_are_every_pair_sharing_a_shingle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The shingles are spilled by hash into parts and grouped one part at a time: the pairs are exactly those of
    grouping every shingle at once (here by a dict), in (a, b) order, whatever the buffer."""
    papers, _ = build_catalog(CORPUS)
    keys = [fold(p.abstract) for p in papers] + [fold(p.abstract[: len(p.abstract) // 2]) for p in papers[:40]] + [""]
    buckets: dict[int, list[int]] = {}
    for i, key in enumerate(keys):
        words = key.split()[:80]
        for shingle in {" ".join(words[j : j + 5]) for j in range(0, max(1, len(words) - 4))}:
            buckets.setdefault(hash(shingle), []).append(i)
    expected = sorted({(a, b) for owners in buckets.values() if 2 <= len(owners) <= catalog_module.BUCKET_MAX
                       for x, a in enumerate(owners) for b in owners[x + 1 :]})  # fmt: skip
    assert len(expected) > 40  # the halves pair with their papers
    for buffer in (3, 1 << 20):
        monkeypatch.setattr(catalog_module._Shingles, "BUFFER", buffer)
        shingles = catalog_module._Shingles(None)
        for i, key in enumerate(keys):
            shingles.add(i, key)
        assert list(catalog_module._pairs(shingles.pairs(len(keys)), len(keys), step=7)) == expected
        shingles.close()


def test_the_streamed_catalog_is_the_built_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog) -> None:
    """`iter_catalog` (what an ingest reads: records spilled to a file, papers made one at a time) gives the papers
    and report `build_catalog` gives, also when the shingles are flushed every few records."""
    papers, report = catalog
    monkeypatch.setattr(catalog_module._Shingles, "BUFFER", 50)
    streamed_report = CatalogReport()
    streamed = iter_catalog(CORPUS, streamed_report, spill_dir=tmp_path)
    first = next(streamed)
    assert streamed_report.records == 546 and len(streamed_report.merges) <= 1  # reported as their papers come
    rest = [first, *streamed]
    assert [p.model_dump() for p in rest] == [p.model_dump() for p in papers]
    assert streamed_report.lines() == report.lines() and len(streamed_report.merges) == 16
    assert list(tmp_path.iterdir()) == []  # the spill files have no name, and are closed


def test_catalog_round_trip(tmp_path: Path, catalog) -> None:
    papers, _ = catalog
    Catalog(papers).save(tmp_path / "c.json")
    again = Catalog.load(tmp_path / "c.json")
    assert [p.model_dump() for p in again.papers] == [p.model_dump() for p in papers]


def test_malformed_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"manifest\.json: missing"):
        build_catalog(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(CorpusError, match="malformed"):
        build_catalog(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"pages": [{"file": "gone.txt", "format": "profile"}]}))
    with pytest.raises(CorpusError, match=r"gone\.txt"):
        build_catalog(tmp_path)
